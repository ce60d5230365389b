//! proxy-wasm ABI 0.2.1 constants: status codes, map/buffer/stream/metric
//! types, log levels, filter actions, and the few WASI errno values the
//! harness returns.

/// `proxy_status_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    ParseFailure = 4,
    InvalidMemoryAccess = 6,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A proxy-wasm enum: its variants with their ABI values, and `from_raw`,
/// which maps a value to its variant (None for any other value).
macro_rules! abi_enum {
    ($(#[$meta:meta])* $name:ident { $($raw:literal => $variant:ident,)* }) => {
        $(#[$meta])*
        pub enum $name {
            $($variant = $raw,)*
        }

        impl $name {
            pub fn from_raw(raw: i32) -> Option<$name> {
                match raw {
                    $($raw => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

abi_enum! {
    /// `proxy_map_type_t`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    MapType {
        0 => HttpRequestHeaders,
        1 => HttpRequestTrailers,
        2 => HttpResponseHeaders,
        3 => HttpResponseTrailers,
    }
}

abi_enum! {
    /// `proxy_buffer_type_t`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    BufferType {
        0 => HttpRequestBody,
        1 => HttpResponseBody,
        2 => DownstreamData,
        3 => UpstreamData,
        4 => HttpCallResponseBody,
        5 => GrpcReceiveBuffer,
        6 => VmConfiguration,
        7 => PluginConfiguration,
    }
}

abi_enum! {
    /// `proxy_stream_type_t` (argument of `proxy_continue_stream` / `proxy_close_stream`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    StreamType {
        0 => HttpRequest,
        1 => HttpResponse,
        2 => Downstream,
        3 => Upstream,
    }
}

abi_enum! {
    /// `proxy_metric_type_t`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    MetricType {
        0 => Counter,
        1 => Gauge,
        2 => Histogram,
    }
}

abi_enum! {
    /// `proxy_log_level_t`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    LogLevel {
        0 => Trace,
        1 => Debug,
        2 => Info,
        3 => Warn,
        4 => Error,
        5 => Critical,
    }
}

abi_enum! {
    /// What a filter callback returned (`proxy_action_t`): 0 continues the
    /// iteration, 1 stops it (Envoy's StopIteration / StopIterationAndBuffer).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    Action {
        0 => Continue,
        1 => Pause,
    }
}

/// WASI `errno` values the harness returns.
pub mod errno {
    pub const SUCCESS: i32 = 0;
    pub const BADF: i32 = 8;
    pub const FAULT: i32 = 21;
    pub const INVAL: i32 = 28;
    pub const NOENT: i32 = 44;
    pub const NOSYS: i32 = 52;
    pub const SPIPE: i32 = 70;
}

#[cfg(test)]
mod tests {
    use super::{Action, BufferType, LogLevel, MapType, MetricType, StreamType};

    #[test]
    fn from_raw_gives_the_variant_with_that_value() {
        // Each enum: its name, from_raw as an i32 round trip, how many values.
        type RoundTrip = fn(i32) -> Option<i32>;
        let values: [(&str, RoundTrip, i32); 6] = [
            ("MapType", |r| MapType::from_raw(r).map(|v| v as i32), 4),
            (
                "BufferType",
                |r| BufferType::from_raw(r).map(|v| v as i32),
                8,
            ),
            (
                "StreamType",
                |r| StreamType::from_raw(r).map(|v| v as i32),
                4,
            ),
            (
                "MetricType",
                |r| MetricType::from_raw(r).map(|v| v as i32),
                3,
            ),
            ("LogLevel", |r| LogLevel::from_raw(r).map(|v| v as i32), 6),
            ("Action", |r| Action::from_raw(r).map(|v| v as i32), 2),
        ];
        for (name, from_raw, count) in values {
            for raw in 0..count {
                assert_eq!(from_raw(raw), Some(raw), "{name} {raw}");
            }
            assert_eq!(from_raw(count), None, "{name} {count}");
            assert_eq!(from_raw(-1), None, "{name} -1");
        }
        assert_eq!(LogLevel::from_raw(3), Some(LogLevel::Warn));
        assert!(LogLevel::Warn < LogLevel::Error);
    }
}
