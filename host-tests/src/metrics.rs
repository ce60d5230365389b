//! The host's metric store, with Envoy's semantics for the proxy-wasm metric
//! calls: defining a name twice returns the same id; counters only go up
//! (`increment` with offset <= 0 is BadArgument, `record` adds); gauges add,
//! subtract and set; histograms only record; `get` of a histogram is BadArgument.

use crate::abi::{MetricType, Status};
use std::collections::BTreeMap;

/// One metric as the host sees it. Names are the filter's, without Envoy's
/// `wasmcustom.` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricType,
    /// Counter or gauge value; for a histogram, the number of recorded values.
    pub value: u64,
    /// Values recorded into a histogram, in order.
    pub recorded: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Metrics {
    by_id: Vec<Metric>,
    /// `proxy_define_metric` calls so far (Envoy keeps a new entry for each, even of a known name).
    definitions: usize,
}

/// Ids handed to the module start here, so that 0 is never a valid id.
const FIRST_ID: u32 = 1;

impl Metrics {
    pub fn define(&mut self, kind: MetricType, name: &str) -> u32 {
        self.definitions += 1;
        if let Some(index) = self
            .by_id
            .iter()
            .position(|m| m.name == name && m.kind == kind)
        {
            return index as u32 + FIRST_ID;
        }
        self.by_id.push(Metric {
            name: name.to_string(),
            kind,
            value: 0,
            recorded: Vec::new(),
        });
        self.by_id.len() as u32 - 1 + FIRST_ID
    }

    /// How many times the module called `proxy_define_metric`.
    pub fn definitions(&self) -> usize {
        self.definitions
    }

    fn get_mut(&mut self, id: u32) -> Result<&mut Metric, Status> {
        id.checked_sub(FIRST_ID)
            .and_then(|i| self.by_id.get_mut(i as usize))
            .ok_or(Status::NotFound)
    }

    pub fn increment(&mut self, id: u32, offset: i64) -> Result<(), Status> {
        let metric = self.get_mut(id)?;
        match metric.kind {
            MetricType::Counter if offset > 0 => {
                metric.value = metric.value.wrapping_add(offset as u64);
                Ok(())
            }
            MetricType::Counter => Err(Status::BadArgument),
            MetricType::Gauge => {
                metric.value = if offset >= 0 {
                    metric.value.wrapping_add(offset as u64)
                } else {
                    metric.value.wrapping_sub(offset.unsigned_abs())
                };
                Ok(())
            }
            MetricType::Histogram => Err(Status::BadArgument),
        }
    }

    pub fn record(&mut self, id: u32, value: u64) -> Result<(), Status> {
        let metric = self.get_mut(id)?;
        match metric.kind {
            MetricType::Counter => metric.value = metric.value.wrapping_add(value),
            MetricType::Gauge => metric.value = value,
            MetricType::Histogram => {
                metric.recorded.push(value);
                metric.value = metric.recorded.len() as u64;
            }
        }
        Ok(())
    }

    pub fn get(&mut self, id: u32) -> Result<u64, Status> {
        let metric = self.get_mut(id)?;
        match metric.kind {
            MetricType::Histogram => Err(Status::BadArgument),
            _ => Ok(metric.value),
        }
    }

    /// Every metric by name. (A name defined with two types keeps the first.)
    pub fn snapshot(&self) -> BTreeMap<String, Metric> {
        let mut out = BTreeMap::new();
        for m in &self.by_id {
            out.entry(m.name.clone()).or_insert_with(|| m.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_semantics() {
        let mut m = Metrics::default();
        let c = m.define(MetricType::Counter, "c");
        assert_eq!(m.define(MetricType::Counter, "c"), c);
        let g = m.define(MetricType::Gauge, "g");
        let h = m.define(MetricType::Histogram, "h");
        assert_eq!(m.increment(c, 2), Ok(()));
        assert_eq!(m.increment(c, 0), Err(Status::BadArgument));
        assert_eq!(m.increment(c, -1), Err(Status::BadArgument));
        assert_eq!(m.record(c, 3), Ok(()));
        assert_eq!(m.get(c), Ok(5));
        assert_eq!(m.increment(g, 5), Ok(()));
        assert_eq!(m.increment(g, -2), Ok(()));
        assert_eq!(m.get(g), Ok(3));
        assert_eq!(m.record(g, 9), Ok(()));
        assert_eq!(m.get(g), Ok(9));
        assert_eq!(m.record(h, 7), Ok(()));
        assert_eq!(m.increment(h, 1), Err(Status::BadArgument));
        assert_eq!(m.get(h), Err(Status::BadArgument));
        assert_eq!(m.get(99), Err(Status::NotFound));
        assert_eq!(m.get(0), Err(Status::NotFound));
        assert_eq!(m.snapshot()["h"].recorded, vec![7]);
    }
}
