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

/// `proxy_map_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapType {
    HttpRequestHeaders,
    HttpRequestTrailers,
    HttpResponseHeaders,
    HttpResponseTrailers,
}

impl MapType {
    pub fn from_raw(raw: i32) -> Option<MapType> {
        match raw {
            0 => Some(MapType::HttpRequestHeaders),
            1 => Some(MapType::HttpRequestTrailers),
            2 => Some(MapType::HttpResponseHeaders),
            3 => Some(MapType::HttpResponseTrailers),
            _ => None,
        }
    }
}

/// `proxy_buffer_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferType {
    HttpRequestBody,
    HttpResponseBody,
    DownstreamData,
    UpstreamData,
    HttpCallResponseBody,
    GrpcReceiveBuffer,
    VmConfiguration,
    PluginConfiguration,
}

impl BufferType {
    pub fn from_raw(raw: i32) -> Option<BufferType> {
        match raw {
            0 => Some(BufferType::HttpRequestBody),
            1 => Some(BufferType::HttpResponseBody),
            2 => Some(BufferType::DownstreamData),
            3 => Some(BufferType::UpstreamData),
            4 => Some(BufferType::HttpCallResponseBody),
            5 => Some(BufferType::GrpcReceiveBuffer),
            6 => Some(BufferType::VmConfiguration),
            7 => Some(BufferType::PluginConfiguration),
            _ => None,
        }
    }
}

/// `proxy_stream_type_t` (argument of `proxy_continue_stream` / `proxy_close_stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    HttpRequest,
    HttpResponse,
    Downstream,
    Upstream,
}

impl StreamType {
    pub fn from_raw(raw: i32) -> Option<StreamType> {
        match raw {
            0 => Some(StreamType::HttpRequest),
            1 => Some(StreamType::HttpResponse),
            2 => Some(StreamType::Downstream),
            3 => Some(StreamType::Upstream),
            _ => None,
        }
    }
}

/// `proxy_metric_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    pub fn from_raw(raw: i32) -> Option<MetricType> {
        match raw {
            0 => Some(MetricType::Counter),
            1 => Some(MetricType::Gauge),
            2 => Some(MetricType::Histogram),
            _ => None,
        }
    }
}

/// `proxy_log_level_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    pub fn from_raw(raw: i32) -> Option<LogLevel> {
        match raw {
            0 => Some(LogLevel::Trace),
            1 => Some(LogLevel::Debug),
            2 => Some(LogLevel::Info),
            3 => Some(LogLevel::Warn),
            4 => Some(LogLevel::Error),
            5 => Some(LogLevel::Critical),
            _ => None,
        }
    }
}

/// What a filter callback returned (`proxy_action_t`): 0 continues the
/// iteration, 1 stops it (Envoy's StopIteration / StopIterationAndBuffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    Pause,
}

impl Action {
    pub fn from_raw(raw: i32) -> Option<Action> {
        match raw {
            0 => Some(Action::Continue),
            1 => Some(Action::Pause),
            _ => None,
        }
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
