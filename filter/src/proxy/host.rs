//! Total wrappers over the proxy-wasm host calls the request path uses.
//!
//! The SDK's own `hostcalls` panic on any status they do not expect and
//! unwrap header values as UTF-8, so one odd header byte would trap the VM.
//! These return every status as an error and values as bytes.

use std::ptr::{null, null_mut};

/// A non-Ok status from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
const EMPTY: u32 = 7;

pub const REQUEST_HEADERS: u32 = 0;
pub const RESPONSE_HEADERS: u32 = 2;
pub const REQUEST_BODY: u32 = 0;
pub const RESPONSE_BODY: u32 = 1;
pub const VM_CONFIGURATION: u32 = 6;
pub const PLUGIN_CONFIGURATION: u32 = 7;

pub const LOG_INFO: u32 = 2;
pub const LOG_ERROR: u32 = 4;
pub const LOG_CRITICAL: u32 = 5;

pub const METRIC_COUNTER: u32 = 0;
pub const METRIC_HISTOGRAM: u32 = 2;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_log(level: u32, message: *const u8, size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
}

/// Takes ownership of a host-returned buffer (allocated through `proxy_on_memory_allocate`).
///
/// # Safety
/// `data` must be null or point to `size` bytes the host allocated for us with the SDK's allocator.
unsafe fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: the allocator boxes a slice of exactly `size` bytes; we are its only owner.
        unsafe { Vec::from_raw_parts(data, size, size) }
    }
}

fn lookup(status: u32, value: impl FnOnce() -> Vec<u8>) -> Result<Option<Vec<u8>>, Status> {
    match status {
        OK => Ok(Some(value())),
        NOT_FOUND | EMPTY => Ok(None),
        other => Err(Status(other)),
    }
}

/// Up to `max` bytes of a buffer from `start`.
pub fn get_buffer(buffer: u32, start: usize, max: usize) -> Result<Vec<u8>, Status> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: out-pointers are valid locals; the host writes an owned buffer or nothing.
    let status = unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) };
    // SAFETY: on return the host has handed us `data` of `size` bytes (or null).
    let bytes = unsafe { owned(data, size) };
    lookup(status, || bytes).map(Option::unwrap_or_default)
}

/// Replaces `size` bytes at `start` of a buffer with `data`.
pub fn set_buffer(buffer: u32, start: usize, size: usize, data: &[u8]) -> Result<(), Status> {
    // SAFETY: `data` is a valid slice for the duration of the call.
    let status = unsafe { proxy_set_buffer_bytes(buffer, start, size, data.as_ptr(), data.len()) };
    if status == OK {
        Ok(())
    } else {
        Err(Status(status))
    }
}

/// A whole header map in the proxy-wasm wire format, in one host call (see
/// [`crate::header_pairs`]); empty when the host has none.
pub fn get_header_pairs(map: u32) -> Result<Vec<u8>, Status> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: out-pointers are valid locals; the host writes an owned buffer or nothing.
    let status = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    // SAFETY: as in `get_buffer`.
    let bytes = unsafe { owned(data, size) };
    lookup(status, || bytes).map(Option::unwrap_or_default)
}

pub fn remove_header(map: u32, key: &str) -> Result<(), Status> {
    // SAFETY: key is a valid slice.
    match unsafe { proxy_remove_header_map_value(map, key.as_ptr(), key.len()) } {
        OK | NOT_FOUND => Ok(()),
        other => Err(Status(other)),
    }
}

pub fn set_header(map: u32, key: &str, value: &str) -> Result<(), Status> {
    // SAFETY: key and value are valid slices.
    match unsafe {
        proxy_replace_header_map_value(map, key.as_ptr(), key.len(), value.as_ptr(), value.len())
    } {
        OK => Ok(()),
        other => Err(Status(other)),
    }
}

/// A host property (path segments joined by NUL); `None` when absent.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let serialized = path.join("\0");
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: the path is a valid slice; out-pointers are valid locals.
    let status =
        unsafe { proxy_get_property(serialized.as_ptr(), serialized.len(), &mut data, &mut size) };
    // SAFETY: as in `get_buffer`.
    let bytes = unsafe { owned(data, size) };
    lookup(status, || bytes)
}

/// Sets a host property of the stream; Envoy stores it as the filter state object
/// `wasm.<name>`, which access logs can read.
pub fn set_property(name: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: both are valid slices for the duration of the call.
    let status =
        unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) };
    match status {
        OK => Ok(()),
        other => Err(Status(other)),
    }
}

/// Sends a local reply with `headers` and `body`.
pub fn send_response(status: u32, headers: &[(&str, &str)], body: &[u8]) -> Result<(), Status> {
    let map = serialize_headers(headers);
    // SAFETY: every pointer is a valid slice for the duration of the call.
    let result = unsafe {
        proxy_send_local_response(
            status,
            null(),
            0,
            body.as_ptr(),
            body.len(),
            map.as_ptr(),
            map.len(),
            -1,
        )
    };
    if result == OK {
        Ok(())
    } else {
        Err(Status(result))
    }
}

/// The proxy-wasm header map encoding: count, (key_len, value_len) pairs, then NUL-terminated keys and values.
fn serialize_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut out = Vec::new();
    out.extend_from_slice(&len(headers.len()));
    for (k, v) in headers {
        out.extend_from_slice(&len(k.len()));
        out.extend_from_slice(&len(v.len()));
    }
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

pub fn log(level: u32, message: &str) {
    log_bytes(level, message.as_bytes());
}

/// [`log`] of a message already in bytes (UTF-8 by construction, e.g. serialized JSON).
pub fn log_bytes(level: u32, message: &[u8]) {
    // SAFETY: message is a valid slice. A failed log has nowhere else to go.
    let _ = unsafe { proxy_log(level, message.as_ptr(), message.len()) };
}

/// Host time in nanoseconds (0 if the host cannot tell).
pub fn now_nanos() -> u64 {
    let mut t = 0u64;
    // SAFETY: out-pointer is a valid local.
    match unsafe { proxy_get_current_time_nanoseconds(&mut t) } {
        OK => t,
        _ => 0,
    }
}

pub fn define_metric(kind: u32, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: name is a valid slice; out-pointer is a valid local.
    match unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) } {
        OK => Ok(id),
        other => Err(Status(other)),
    }
}

pub fn increment_metric(id: u32, delta: u64) {
    // SAFETY: plain values. A metric the host lost is not worth failing a request for.
    let _ = unsafe { proxy_increment_metric(id, i64::try_from(delta).unwrap_or(i64::MAX)) };
}

pub fn record_metric(id: u32, value: u64) {
    // SAFETY: plain values.
    let _ = unsafe { proxy_record_metric(id, value) };
}

/// Asks the host to call `on_tick` every `period_ms` milliseconds (0 stops it).
pub fn set_tick_period(period_ms: u32) -> Result<(), Status> {
    // SAFETY: plain value.
    match unsafe { proxy_set_tick_period_milliseconds(period_ms) } {
        OK => Ok(()),
        other => Err(Status(other)),
    }
}
