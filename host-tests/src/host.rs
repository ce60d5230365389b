//! The `env` imports of proxy-wasm ABI 0.2.1: every host function the Rust
//! SDK 0.2.5 (`proxy_wasm::hostcalls`) can import, with Envoy's semantics
//! where they matter to a filter:
//!
//! - `proxy_get_buffer_bytes` clamps the range to the buffer; an empty result
//!   is Ok with a null pointer (the SDK turns it into `None`).
//! - `proxy_set_buffer_bytes` follows Envoy's buffer: `start == 0` drains
//!   `size` bytes and prepends the data (so `(0, len, data)` replaces the whole
//!   body and `(0, 0, data)` prepends); `start >= len` appends; any other start
//!   is BadArgument, as in Envoy.
//! - Header maps that have not arrived read as empty (pairs) or NotFound
//!   (one value); editing them is BadArgument.
//! - HTTP/gRPC callouts are Unimplemented, foreign functions NotFound.

use crate::abi::{BufferType, LogLevel, MapType, MetricType, Status, StreamType};
use crate::guest::{
    self, define_answer, imports, read, read_string, status, Fault, HostCaller, HostResult,
    ReturnSlots, Slice,
};
use crate::headers::HeaderMap;
use crate::state::{HostState, LogEntry, PropertyPath};
use crate::stream::{Direction, LocalResponse, Side};
use wasmtime::{Linker, ValType};

const ENV: &str = "env";

/// Imports this host does not provide: name, number of i32 arguments, answer.
/// Calls answered with Unimplemented are recorded in
/// [`HostState::unimplemented_calls`].
const NOT_PROVIDED: [(&str, usize, Status); 8] = [
    ("proxy_http_call", 10, Status::Unimplemented),
    ("proxy_grpc_call", 12, Status::Unimplemented),
    ("proxy_grpc_stream", 9, Status::Unimplemented),
    ("proxy_grpc_send", 4, Status::Unimplemented),
    ("proxy_grpc_cancel", 1, Status::NotFound),
    ("proxy_grpc_close", 1, Status::NotFound),
    ("proxy_get_status", 3, Status::Unimplemented),
    ("proxy_call_foreign_function", 6, Status::NotFound),
];

/// Defines every proxy-wasm host function in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    imports!(linker, ENV, status, {
        // Logging, time, configuration.
        "proxy_log" => |c, level: i32, ptr: i32, len: i32| log(c, level, (ptr, len));
        "proxy_get_log_level" => |c, ret: i32| {
            let level = c.data().log_level as u32;
            guest::write_u32(c, ret, level)
        };
        "proxy_get_current_time_nanoseconds" => |c, ret: i32| {
            let now = c.data().clock.realtime_ns;
            guest::write_u64(c, ret, now)
        };
        "proxy_set_tick_period_milliseconds" => |c, period: i32| {
            c.data_mut().tick_period_ms = period as u32;
            Ok(())
        };
        "proxy_get_configuration" => |c, ptr_ptr: i32, size_ptr: i32| {
            let config = c.data().plugin_config.clone();
            guest::return_bytes(c, &config, (ptr_ptr, size_ptr))
        };
        "proxy_done" => |_c| Ok(());
        "proxy_set_effective_context" => |c, id: i32| set_effective_context(c.data_mut(), id as u32);

        // Buffers.
        "proxy_get_buffer_bytes" =>
            |c, kind: i32, start: i32, max: i32, ptr_ptr: i32, size_ptr: i32| {
                get_buffer(c, kind, start as u32, max as u32, (ptr_ptr, size_ptr))
            };
        "proxy_set_buffer_bytes" => |c, kind: i32, start: i32, size: i32, ptr: i32, len: i32| {
            set_buffer(c, kind, start as u32, size as u32, (ptr, len))
        };

        // Header maps.
        "proxy_get_header_map_pairs" => |c, kind: i32, ptr_ptr: i32, size_ptr: i32| {
            get_map_pairs(c, kind, (ptr_ptr, size_ptr))
        };
        "proxy_set_header_map_pairs" => |c, kind: i32, ptr: i32, len: i32| {
            set_map_pairs(c, kind, (ptr, len))
        };
        "proxy_get_header_map_size" => |c, kind: i32, ret: i32| get_map_size(c, kind, ret);
        "proxy_get_header_map_value" =>
            |c, kind: i32, kptr: i32, klen: i32, ptr_ptr: i32, size_ptr: i32| {
                get_map_value(c, kind, (kptr, klen), (ptr_ptr, size_ptr))
            };
        "proxy_replace_header_map_value" =>
            |c, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
                edit_map(c, kind, (kptr, klen), Edit::Replace((vptr, vlen)))
            };
        "proxy_add_header_map_value" =>
            |c, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
                edit_map(c, kind, (kptr, klen), Edit::Add((vptr, vlen)))
            };
        "proxy_remove_header_map_value" => |c, kind: i32, kptr: i32, klen: i32| {
            edit_map(c, kind, (kptr, klen), Edit::Remove)
        };

        // Properties.
        "proxy_get_property" => |c, pptr: i32, plen: i32, ptr_ptr: i32, size_ptr: i32| {
            get_property(c, (pptr, plen), (ptr_ptr, size_ptr))
        };
        "proxy_set_property" => |c, pptr: i32, plen: i32, vptr: i32, vlen: i32| {
            set_property(c, (pptr, plen), (vptr, vlen))
        };

        // Shared data and queues (in memory, one VM).
        "proxy_get_shared_data" =>
            |c, kptr: i32, klen: i32, ptr_ptr: i32, size_ptr: i32, cas_ptr: i32| {
                get_shared_data(c, (kptr, klen), (ptr_ptr, size_ptr), cas_ptr)
            };
        "proxy_set_shared_data" => |c, kptr: i32, klen: i32, vptr: i32, vlen: i32, cas: i32| {
            set_shared_data(c, (kptr, klen), (vptr, vlen), cas as u32)
        };
        "proxy_register_shared_queue" => |c, nptr: i32, nlen: i32, ret: i32| {
            register_queue(c, (nptr, nlen), ret)
        };
        "proxy_resolve_shared_queue" =>
            |c, vptr: i32, vlen: i32, nptr: i32, nlen: i32, ret: i32| {
                resolve_queue(c, (vptr, vlen), (nptr, nlen), ret)
            };
        "proxy_enqueue_shared_queue" => |c, id: i32, vptr: i32, vlen: i32| {
            enqueue(c, id as u32, (vptr, vlen))
        };
        "proxy_dequeue_shared_queue" => |c, id: i32, ptr_ptr: i32, size_ptr: i32| {
            dequeue(c, id as u32, (ptr_ptr, size_ptr))
        };

        // Stream control and local responses.
        "proxy_continue_stream" => |c, kind: i32| continue_stream(c, kind);
        "proxy_close_stream" => |c, kind: i32| close_stream(c, kind);
        "proxy_send_local_response" =>
            |c, code: i32, dptr: i32, dlen: i32, bptr: i32, blen: i32, hptr: i32, hlen: i32,
             grpc: i32| {
                let parts = [(dptr, dlen), (bptr, blen), (hptr, hlen)];
                send_local_response(c, code as u32, parts, grpc)
            };

        // Metrics.
        "proxy_define_metric" => |c, kind: i32, nptr: i32, nlen: i32, ret: i32| {
            define_metric(c, kind, (nptr, nlen), ret)
        };
        "proxy_increment_metric" => |c, id: i32, offset: i64| {
            c.data_mut().metrics.increment(id as u32, offset).map_err(Fault::from)
        };
        "proxy_record_metric" => |c, id: i32, value: i64| {
            c.data_mut().metrics.record(id as u32, value as u64).map_err(Fault::from)
        };
        "proxy_get_metric" => |c, id: i32, ret: i32| {
            let value = c.data_mut().metrics.get(id as u32).map_err(Fault::from);
            value.and_then(|v| guest::write_u64(c, ret, v))
        };
    });

    for (name, arguments, answer) in NOT_PROVIDED {
        let params = vec![ValType::I32; arguments];
        define_answer(linker, ENV, name, &params, move |state, _| {
            if answer == Status::Unimplemented {
                state.unimplemented_calls.push(name.to_string());
            }
            answer.code()
        })?;
    }
    Ok(())
}

fn set_effective_context(state: &mut HostState, id: u32) -> HostResult<()> {
    if id == state.root_context_id || state.streams.contains_key(&id) {
        state.effective_context = id;
        Ok(())
    } else {
        Err(Status::BadArgument.into())
    }
}

fn log(c: &mut HostCaller<'_>, level: i32, message: Slice) -> HostResult<()> {
    let level = LogLevel::from_raw(level).ok_or(Status::BadArgument)?;
    let message = read_string(c, message)?;
    let state = c.data_mut();
    if state.echo {
        eprintln!("[wasm {level:?} ctx={}] {message}", state.active_context);
    }
    let context_id = state.active_context;
    state.logs.push(LogEntry {
        level,
        message,
        context_id,
    });
    Ok(())
}

/// The body buffer of the current stream for `kind`.
fn body_buffer(state: &mut HostState, kind: BufferType) -> HostResult<&mut Vec<u8>> {
    let side = match kind {
        BufferType::HttpRequestBody => Side::Request,
        BufferType::HttpResponseBody => Side::Response,
        _ => return Err(Status::NotFound.into()),
    };
    let stream = state.current_stream().ok_or(Status::NotFound)?;
    Ok(&mut stream.direction(side).buffered)
}

fn get_buffer(
    c: &mut HostCaller<'_>,
    kind: i32,
    start: u32,
    max: u32,
    out: ReturnSlots,
) -> HostResult<()> {
    let kind = BufferType::from_raw(kind).ok_or(Status::BadArgument)?;
    let bytes = {
        let state = c.data_mut();
        let whole: &[u8] = match kind {
            BufferType::VmConfiguration => &state.vm_config,
            BufferType::PluginConfiguration => &state.plugin_config,
            BufferType::HttpRequestBody | BufferType::HttpResponseBody => body_buffer(state, kind)?,
            _ => return Err(Status::NotFound.into()),
        };
        let start = (start as usize).min(whole.len());
        let end = start.saturating_add(max as usize).min(whole.len());
        whole.get(start..end).unwrap_or_default().to_vec()
    };
    guest::return_bytes(c, &bytes, out)
}

fn set_buffer(
    c: &mut HostCaller<'_>,
    kind: i32,
    start: u32,
    size: u32,
    data: Slice,
) -> HostResult<()> {
    let kind = BufferType::from_raw(kind).ok_or(Status::BadArgument)?;
    let data = read(c, data)?;
    let buffer = body_buffer(c.data_mut(), kind)?;
    let (start, size) = (start as usize, size as usize);
    if start == 0 {
        buffer.drain(..size.min(buffer.len()));
        buffer.splice(0..0, data);
    } else if start >= buffer.len() {
        buffer.extend_from_slice(&data);
    } else {
        return Err(Status::BadArgument.into());
    }
    Ok(())
}

/// The map `kind` of the current stream, and the direction that owns it.
fn map_of(state: &mut HostState, kind: i32) -> HostResult<(&mut Direction, bool)> {
    let kind = MapType::from_raw(kind).ok_or(Status::BadArgument)?;
    let stream = state.current_stream().ok_or(Status::BadArgument)?;
    Ok(match kind {
        MapType::HttpRequestHeaders => (&mut stream.request, false),
        MapType::HttpRequestTrailers => (&mut stream.request, true),
        MapType::HttpResponseHeaders => (&mut stream.response, false),
        MapType::HttpResponseTrailers => (&mut stream.response, true),
    })
}

fn read_map(state: &mut HostState, kind: i32) -> HostResult<Option<HeaderMap>> {
    let (direction, trailers) = map_of(state, kind)?;
    Ok(if trailers {
        direction.trailers.clone()
    } else {
        direction.headers.clone()
    })
}

/// The map `kind` for editing; counts the edit as late if the map was already sent on.
fn edit_target(state: &mut HostState, kind: i32) -> HostResult<&mut HeaderMap> {
    let (direction, trailers) = map_of(state, kind)?;
    let already_sent = if trailers {
        direction.egress_trailers.is_some()
    } else {
        direction.egress_headers.is_some()
    };
    if already_sent {
        direction.late_header_changes += 1;
    }
    let map = if trailers {
        &mut direction.trailers
    } else {
        &mut direction.headers
    };
    map.as_mut().ok_or_else(|| Status::BadArgument.into())
}

fn get_map_pairs(c: &mut HostCaller<'_>, kind: i32, out: ReturnSlots) -> HostResult<()> {
    let map = read_map(c.data_mut(), kind)?.unwrap_or_default();
    guest::return_bytes(c, &map.serialize(), out)
}

fn get_map_size(c: &mut HostCaller<'_>, kind: i32, ret: i32) -> HostResult<()> {
    let map = read_map(c.data_mut(), kind)?.unwrap_or_default();
    guest::write_u32(c, ret, map.serialize().len() as u32)
}

fn set_map_pairs(c: &mut HostCaller<'_>, kind: i32, pairs: Slice) -> HostResult<()> {
    let bytes = read(c, pairs)?;
    let new = HeaderMap::deserialize(&bytes).map_err(|_| Status::BadArgument)?;
    *edit_target(c.data_mut(), kind)? = new;
    Ok(())
}

fn get_map_value(
    c: &mut HostCaller<'_>,
    kind: i32,
    key: Slice,
    out: ReturnSlots,
) -> HostResult<()> {
    let key = read(c, key)?;
    let map = read_map(c.data_mut(), kind)?.ok_or(Status::NotFound)?;
    let value = map.get_bytes(&key).ok_or(Status::NotFound)?.to_vec();
    guest::return_bytes(c, &value, out)
}

/// A header map edit, with the value it writes.
enum Edit {
    Add(Slice),
    Replace(Slice),
    Remove,
}

fn edit_map(c: &mut HostCaller<'_>, kind: i32, key: Slice, edit: Edit) -> HostResult<()> {
    let key = read(c, key)?;
    let value = match edit {
        Edit::Add(value) | Edit::Replace(value) => read(c, value)?,
        Edit::Remove => Vec::new(),
    };
    let map = edit_target(c.data_mut(), kind)?;
    match edit {
        Edit::Add(_) => map.add(&key, &value),
        Edit::Replace(_) => map.replace(&key, &value),
        Edit::Remove => map.remove(&key),
    }
    Ok(())
}

/// Splits the SDK's NUL-joined property path.
pub fn parse_path(bytes: &[u8]) -> PropertyPath {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    bytes
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Property lookup: the stream's own properties, then the VM's, then values
/// derived from the request/response headers as Envoy derives them.
pub fn lookup_property(state: &mut HostState, path: &PropertyPath) -> Option<Vec<u8>> {
    let context = state.effective_context;
    if let Some(stream) = state.streams.get(&context) {
        if let Some(v) = stream.properties.get(path) {
            return Some(v.clone());
        }
    }
    if let Some(v) = state.properties.get(path) {
        return Some(v.clone());
    }
    let stream = state.streams.get(&context)?;
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let (direction, header) = match segments.as_slice() {
        ["request", "id"] => (&stream.request, "x-request-id"),
        ["request", "path"] => (&stream.request, ":path"),
        ["request", "url_path"] => (&stream.request, ":path"),
        ["request", "host"] => (&stream.request, ":authority"),
        ["request", "method"] => (&stream.request, ":method"),
        ["request", "scheme"] => (&stream.request, ":scheme"),
        ["request", "headers", name] => (&stream.request, *name),
        ["response", "code"] => (&stream.response, ":status"),
        ["response", "headers", name] => (&stream.response, *name),
        _ => return None,
    };
    let value = direction.headers.as_ref()?.get_bytes(header.as_bytes())?;
    let value = if segments.as_slice() == ["request", "url_path"] {
        value.split(|b| *b == b'?').next().unwrap_or_default()
    } else {
        value
    };
    Some(value.to_vec())
}

fn get_property(c: &mut HostCaller<'_>, path: Slice, out: ReturnSlots) -> HostResult<()> {
    let path = parse_path(&read(c, path)?);
    let value = lookup_property(c.data_mut(), &path).ok_or(Status::NotFound)?;
    guest::return_bytes(c, &value, out)
}

fn set_property(c: &mut HostCaller<'_>, path: Slice, value: Slice) -> HostResult<()> {
    let path = parse_path(&read(c, path)?);
    let value = read(c, value)?;
    let state = c.data_mut();
    let context = state.effective_context;
    match state.streams.get_mut(&context) {
        Some(stream) => stream.properties.insert(path, value),
        None => state.properties.insert(path, value),
    };
    Ok(())
}

fn get_shared_data(
    c: &mut HostCaller<'_>,
    key: Slice,
    out: ReturnSlots,
    cas_ptr: i32,
) -> HostResult<()> {
    let key = read_string(c, key)?;
    let (value, cas) = c
        .data()
        .shared_data
        .get(&key)
        .cloned()
        .ok_or(Status::NotFound)?;
    guest::return_bytes(c, &value, out)?;
    guest::write_u32(c, cas_ptr, cas)
}

fn set_shared_data(c: &mut HostCaller<'_>, key: Slice, value: Slice, cas: u32) -> HostResult<()> {
    let key = read_string(c, key)?;
    let value = read(c, value)?;
    let data = &mut c.data_mut().shared_data;
    let current = data.get(&key).map(|(_, cas)| *cas).unwrap_or(0);
    if cas != 0 && cas != current {
        return Err(Status::CasMismatch.into());
    }
    data.insert(key, (value, current.wrapping_add(1).max(1)));
    Ok(())
}

fn register_queue(c: &mut HostCaller<'_>, name: Slice, ret: i32) -> HostResult<()> {
    let name = read_string(c, name)?;
    let state = c.data_mut();
    let vm_id = state.vm_id.clone();
    let queues = &mut state.queues;
    let index = match queues
        .names
        .iter()
        .position(|(v, n)| *v == vm_id && *n == name)
    {
        Some(i) => i,
        None => {
            queues.names.push((vm_id, name));
            queues.queues.push(Default::default());
            queues.names.len() - 1
        }
    };
    guest::write_u32(c, ret, index as u32 + 1)
}

fn resolve_queue(c: &mut HostCaller<'_>, vm_id: Slice, name: Slice, ret: i32) -> HostResult<()> {
    let vm_id = read_string(c, vm_id)?;
    let name = read_string(c, name)?;
    let index = c
        .data()
        .queues
        .names
        .iter()
        .position(|(v, n)| *v == vm_id && *n == name)
        .ok_or(Status::NotFound)?;
    guest::write_u32(c, ret, index as u32 + 1)
}

fn enqueue(c: &mut HostCaller<'_>, id: u32, value: Slice) -> HostResult<()> {
    let value = read(c, value)?;
    let queue = id
        .checked_sub(1)
        .and_then(|i| c.data_mut().queues.queues.get_mut(i as usize))
        .ok_or(Status::NotFound)?;
    queue.push_back(value);
    Ok(())
}

fn dequeue(c: &mut HostCaller<'_>, id: u32, out: ReturnSlots) -> HostResult<()> {
    let queue = id
        .checked_sub(1)
        .and_then(|i| c.data_mut().queues.queues.get_mut(i as usize))
        .ok_or(Status::NotFound)?;
    let value = queue.pop_front().ok_or(Status::Empty)?;
    guest::return_bytes(c, &value, out)
}

fn continue_stream(c: &mut HostCaller<'_>, kind: i32) -> HostResult<()> {
    let kind = StreamType::from_raw(kind).ok_or(Status::BadArgument)?;
    let stream = c.data_mut().current_stream().ok_or(Status::NotFound)?;
    match kind {
        StreamType::HttpRequest => stream.request.resume_requested = true,
        StreamType::HttpResponse => stream.response.resume_requested = true,
        StreamType::Downstream | StreamType::Upstream => return Err(Status::BadArgument.into()),
    }
    Ok(())
}

fn close_stream(c: &mut HostCaller<'_>, kind: i32) -> HostResult<()> {
    let kind = StreamType::from_raw(kind).ok_or(Status::BadArgument)?;
    let stream = c.data_mut().current_stream().ok_or(Status::NotFound)?;
    stream.closed.push(kind);
    Ok(())
}

/// The three slices: the details, body and serialized headers of the reply.
fn send_local_response(
    c: &mut HostCaller<'_>,
    code: u32,
    [details, body, headers]: [Slice; 3],
    grpc_status: i32,
) -> HostResult<()> {
    let details = read_string(c, details)?;
    let body = read(c, body)?;
    let header_bytes = read(c, headers)?;
    let headers = HeaderMap::deserialize(&header_bytes).map_err(|_| Status::BadArgument)?;
    let stream = c.data_mut().current_stream().ok_or(Status::BadArgument)?;
    stream.local_response_calls += 1;
    if stream.local_response.is_none() {
        stream.local_response = Some(LocalResponse {
            status: code,
            details,
            headers: headers.to_pairs(),
            body,
            grpc_status,
        });
    }
    Ok(())
}

fn define_metric(c: &mut HostCaller<'_>, kind: i32, name: Slice, ret: i32) -> HostResult<()> {
    let kind = MetricType::from_raw(kind).ok_or(Status::BadArgument)?;
    let name = read_string(c, name)?;
    let id = c.data_mut().metrics.define(kind, &name);
    guest::write_u32(c, ret, id)
}

#[cfg(test)]
mod tests {
    use super::parse_path;

    #[test]
    fn property_paths() {
        assert_eq!(parse_path(b"request\0id"), ["request", "id"]);
        assert_eq!(parse_path(b"request\0id\0"), ["request", "id"]);
        assert_eq!(parse_path(b"plugin_name"), ["plugin_name"]);
    }
}
