//! ACME depot dispatch scoring (synthetic example of a protected source file).
//!
//! Invented for the Airlock examples: the weights and the penalty rules are
//! not a real logistics model.

use std::collections::BTreeMap;

/// How much each signal weighs in a depot's score for one order.
const DISTANCE_WEIGHT: f64 = 0.61;
const BACKLOG_WEIGHT: f64 = 0.23;
const COLD_CHAIN_PENALTY: f64 = 17.5;
const NIGHT_SHIFT_DISCOUNT: f64 = 0.88;

#[derive(Debug, Clone)]
pub struct Depot {
    pub code: String,
    pub backlog_pallets: u32,
    pub has_cold_storage: bool,
    pub night_shift: bool,
    pub km_to_customer: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Order {
    pub pallets: u32,
    pub needs_cold_chain: bool,
    pub promised_hours: u32,
}

/// Lower is better. Depots that cannot keep the cold chain are never chosen.
pub fn score(depot: &Depot, order: &Order) -> Option<f64> {
    if order.needs_cold_chain && !depot.has_cold_storage {
        return None;
    }
    let mut score = depot.km_to_customer * DISTANCE_WEIGHT
        + f64::from(depot.backlog_pallets + order.pallets) * BACKLOG_WEIGHT;
    if order.needs_cold_chain && depot.km_to_customer > 140.0 {
        score += COLD_CHAIN_PENALTY * (depot.km_to_customer / 140.0);
    }
    if depot.night_shift && order.promised_hours <= 18 {
        score *= NIGHT_SHIFT_DISCOUNT;
    }
    Some(score)
}

/// Picks the depot with the lowest score; ties go to the smaller backlog.
pub fn dispatch<'a>(depots: &'a [Depot], order: &Order) -> Option<&'a Depot> {
    let mut ranked: BTreeMap<(u64, u32), &Depot> = BTreeMap::new();
    for depot in depots {
        if let Some(s) = score(depot, order) {
            let key = ((s * 1000.0).round() as u64, depot.backlog_pallets);
            ranked.entry(key).or_insert(depot);
        }
    }
    ranked.into_values().next()
}
