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
use crate::guest::{self, status, Fault, HostCaller, HostResult};
use crate::headers::HeaderMap;
use crate::state::{HostState, LogEntry, PropertyPath};
use crate::stream::{Direction, LocalResponse, Side};
use wasmtime::Linker;

const ENV: &str = "env";

/// Defines every proxy-wasm host function in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // Logging, time, configuration.
    linker.func_wrap(
        ENV,
        "proxy_log",
        |mut c: HostCaller<'_>, level: i32, ptr: i32, len: i32| {
            status(log(&mut c, level, ptr, len))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_log_level",
        |mut c: HostCaller<'_>, ret: i32| {
            let level = c.data().log_level as u32;
            status(guest::write_u32(&mut c, ret, level))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_current_time_nanoseconds",
        |mut c: HostCaller<'_>, ret: i32| {
            let now = c.data().clock.realtime_ns;
            status(guest::write_u64(&mut c, ret, now))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_tick_period_milliseconds",
        |mut c: HostCaller<'_>, period: i32| {
            c.data_mut().tick_period_ms = period as u32;
            Ok(Status::Ok.code())
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_configuration",
        |mut c: HostCaller<'_>, ptr_ptr: i32, size_ptr: i32| {
            let config = c.data().plugin_config.clone();
            status(guest::return_bytes(&mut c, &config, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_done",
        |_c: HostCaller<'_>| Ok(Status::Ok.code()),
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_effective_context",
        |mut c: HostCaller<'_>, id: i32| {
            let id = id as u32;
            let state = c.data_mut();
            if id == state.root_context_id || state.streams.contains_key(&id) {
                state.effective_context = id;
                Ok(Status::Ok.code())
            } else {
                Ok(Status::BadArgument.code())
            }
        },
    )?;

    // Buffers.
    linker.func_wrap(
        ENV,
        "proxy_get_buffer_bytes",
        |mut c: HostCaller<'_>, kind: i32, start: i32, max: i32, ptr_ptr: i32, size_ptr: i32| {
            status(get_buffer(
                &mut c,
                kind,
                start as u32,
                max as u32,
                ptr_ptr,
                size_ptr,
            ))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_buffer_bytes",
        |mut c: HostCaller<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| {
            status(set_buffer(
                &mut c,
                kind,
                start as u32,
                size as u32,
                ptr,
                len,
            ))
        },
    )?;

    // Header maps.
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_pairs",
        |mut c: HostCaller<'_>, kind: i32, ptr_ptr: i32, size_ptr: i32| {
            status(get_map_pairs(&mut c, kind, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_header_map_pairs",
        |mut c: HostCaller<'_>, kind: i32, ptr: i32, len: i32| {
            status(set_map_pairs(&mut c, kind, ptr, len))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_size",
        |mut c: HostCaller<'_>, kind: i32, ret: i32| status(get_map_size(&mut c, kind, ret)),
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_value",
        |mut c: HostCaller<'_>, kind: i32, kptr: i32, klen: i32, ptr_ptr: i32, size_ptr: i32| {
            status(get_map_value(&mut c, kind, kptr, klen, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_replace_header_map_value",
        |mut c: HostCaller<'_>, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
            status(edit_map(
                &mut c,
                kind,
                kptr,
                klen,
                Some((vptr, vlen)),
                Edit::Replace,
            ))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_add_header_map_value",
        |mut c: HostCaller<'_>, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
            status(edit_map(
                &mut c,
                kind,
                kptr,
                klen,
                Some((vptr, vlen)),
                Edit::Add,
            ))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_remove_header_map_value",
        |mut c: HostCaller<'_>, kind: i32, kptr: i32, klen: i32| {
            status(edit_map(&mut c, kind, kptr, klen, None, Edit::Remove))
        },
    )?;

    // Properties.
    linker.func_wrap(
        ENV,
        "proxy_get_property",
        |mut c: HostCaller<'_>, pptr: i32, plen: i32, ptr_ptr: i32, size_ptr: i32| {
            status(get_property(&mut c, pptr, plen, ptr_ptr, size_ptr))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_property",
        |mut c: HostCaller<'_>, pptr: i32, plen: i32, vptr: i32, vlen: i32| {
            status(set_property(&mut c, pptr, plen, vptr, vlen))
        },
    )?;

    // Shared data and queues (in memory, one VM).
    linker.func_wrap(
        ENV,
        "proxy_get_shared_data",
        |mut c: HostCaller<'_>, kptr: i32, klen: i32, ptr_ptr: i32, size_ptr: i32, cas_ptr: i32| {
            status(get_shared_data(
                &mut c, kptr, klen, ptr_ptr, size_ptr, cas_ptr,
            ))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_shared_data",
        |mut c: HostCaller<'_>, kptr: i32, klen: i32, vptr: i32, vlen: i32, cas: i32| {
            status(set_shared_data(&mut c, kptr, klen, vptr, vlen, cas as u32))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_register_shared_queue",
        |mut c: HostCaller<'_>, nptr: i32, nlen: i32, ret: i32| {
            status(register_queue(&mut c, nptr, nlen, ret))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_resolve_shared_queue",
        |mut c: HostCaller<'_>, vptr: i32, vlen: i32, nptr: i32, nlen: i32, ret: i32| {
            status(resolve_queue(&mut c, vptr, vlen, nptr, nlen, ret))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_enqueue_shared_queue",
        |mut c: HostCaller<'_>, id: i32, vptr: i32, vlen: i32| {
            status(enqueue(&mut c, id as u32, vptr, vlen))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_dequeue_shared_queue",
        |mut c: HostCaller<'_>, id: i32, ptr_ptr: i32, size_ptr: i32| {
            status(dequeue(&mut c, id as u32, ptr_ptr, size_ptr))
        },
    )?;

    // Stream control and local responses.
    linker.func_wrap(
        ENV,
        "proxy_continue_stream",
        |mut c: HostCaller<'_>, kind: i32| status(continue_stream(&mut c, kind)),
    )?;
    linker.func_wrap(
        ENV,
        "proxy_close_stream",
        |mut c: HostCaller<'_>, kind: i32| status(close_stream(&mut c, kind)),
    )?;
    linker.func_wrap(
        ENV,
        "proxy_send_local_response",
        |mut c: HostCaller<'_>,
         code: i32,
         dptr: i32,
         dlen: i32,
         bptr: i32,
         blen: i32,
         hptr: i32,
         hlen: i32,
         grpc: i32| {
            status(send_local_response(
                &mut c,
                code as u32,
                (dptr, dlen),
                (bptr, blen),
                (hptr, hlen),
                grpc,
            ))
        },
    )?;

    // Metrics.
    linker.func_wrap(
        ENV,
        "proxy_define_metric",
        |mut c: HostCaller<'_>, kind: i32, nptr: i32, nlen: i32, ret: i32| {
            status(define_metric(&mut c, kind, nptr, nlen, ret))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_increment_metric",
        |mut c: HostCaller<'_>, id: i32, offset: i64| {
            status(
                c.data_mut()
                    .metrics
                    .increment(id as u32, offset)
                    .map_err(Fault::from),
            )
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_record_metric",
        |mut c: HostCaller<'_>, id: i32, value: i64| {
            status(
                c.data_mut()
                    .metrics
                    .record(id as u32, value as u64)
                    .map_err(Fault::from),
            )
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_metric",
        |mut c: HostCaller<'_>, id: i32, ret: i32| {
            let value = c.data_mut().metrics.get(id as u32);
            status(
                value
                    .map_err(Fault::from)
                    .and_then(|v| guest::write_u64(&mut c, ret, v)),
            )
        },
    )?;

    // Not provided by this host.
    linker.func_wrap(
        ENV,
        "proxy_http_call",
        |mut c: HostCaller<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32| { Ok(unimplemented(&mut c, "proxy_http_call")) },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_grpc_call",
        |mut c: HostCaller<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32| { Ok(unimplemented(&mut c, "proxy_grpc_call")) },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_grpc_stream",
        |mut c: HostCaller<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32| { Ok(unimplemented(&mut c, "proxy_grpc_stream")) },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_grpc_send",
        |mut c: HostCaller<'_>, _: i32, _: i32, _: i32, _: i32| {
            Ok(unimplemented(&mut c, "proxy_grpc_send"))
        },
    )?;
    linker.func_wrap(ENV, "proxy_grpc_cancel", |_c: HostCaller<'_>, _: i32| {
        Ok(Status::NotFound.code())
    })?;
    linker.func_wrap(ENV, "proxy_grpc_close", |_c: HostCaller<'_>, _: i32| {
        Ok(Status::NotFound.code())
    })?;
    linker.func_wrap(
        ENV,
        "proxy_get_status",
        |mut c: HostCaller<'_>, _: i32, _: i32, _: i32| {
            Ok(unimplemented(&mut c, "proxy_get_status"))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_call_foreign_function",
        |_c: HostCaller<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
            Ok(Status::NotFound.code())
        },
    )?;
    Ok(())
}

fn unimplemented(c: &mut HostCaller<'_>, name: &str) -> i32 {
    c.data_mut().unimplemented_calls.push(name.to_string());
    Status::Unimplemented.code()
}

fn log(c: &mut HostCaller<'_>, level: i32, ptr: i32, len: i32) -> HostResult<()> {
    let level = LogLevel::from_raw(level).ok_or(Status::BadArgument)?;
    let message = guest::read_string(c, ptr, len)?;
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
    ptr_ptr: i32,
    size_ptr: i32,
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
    guest::return_bytes(c, &bytes, ptr_ptr, size_ptr)
}

fn set_buffer(
    c: &mut HostCaller<'_>,
    kind: i32,
    start: u32,
    size: u32,
    ptr: i32,
    len: i32,
) -> HostResult<()> {
    let kind = BufferType::from_raw(kind).ok_or(Status::BadArgument)?;
    let data = guest::read(c, ptr, len)?;
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

fn get_map_pairs(c: &mut HostCaller<'_>, kind: i32, ptr_ptr: i32, size_ptr: i32) -> HostResult<()> {
    let map = read_map(c.data_mut(), kind)?.unwrap_or_default();
    guest::return_bytes(c, &map.serialize(), ptr_ptr, size_ptr)
}

fn get_map_size(c: &mut HostCaller<'_>, kind: i32, ret: i32) -> HostResult<()> {
    let map = read_map(c.data_mut(), kind)?.unwrap_or_default();
    guest::write_u32(c, ret, map.serialize().len() as u32)
}

fn set_map_pairs(c: &mut HostCaller<'_>, kind: i32, ptr: i32, len: i32) -> HostResult<()> {
    let bytes = guest::read(c, ptr, len)?;
    let new = HeaderMap::deserialize(&bytes).map_err(|_| Status::BadArgument)?;
    *edit_target(c.data_mut(), kind)? = new;
    Ok(())
}

fn get_map_value(
    c: &mut HostCaller<'_>,
    kind: i32,
    kptr: i32,
    klen: i32,
    ptr_ptr: i32,
    size_ptr: i32,
) -> HostResult<()> {
    let key = guest::read(c, kptr, klen)?;
    let map = read_map(c.data_mut(), kind)?.ok_or(Status::NotFound)?;
    let value = map.get_bytes(&key).ok_or(Status::NotFound)?.to_vec();
    guest::return_bytes(c, &value, ptr_ptr, size_ptr)
}

enum Edit {
    Add,
    Replace,
    Remove,
}

fn edit_map(
    c: &mut HostCaller<'_>,
    kind: i32,
    kptr: i32,
    klen: i32,
    value: Option<(i32, i32)>,
    edit: Edit,
) -> HostResult<()> {
    let key = guest::read(c, kptr, klen)?;
    let value = match value {
        Some((vptr, vlen)) => guest::read(c, vptr, vlen)?,
        None => Vec::new(),
    };
    let map = edit_target(c.data_mut(), kind)?;
    match edit {
        Edit::Add => map.add(&key, &value),
        Edit::Replace => map.replace(&key, &value),
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

fn get_property(
    c: &mut HostCaller<'_>,
    pptr: i32,
    plen: i32,
    ptr_ptr: i32,
    size_ptr: i32,
) -> HostResult<()> {
    let path = parse_path(&guest::read(c, pptr, plen)?);
    let value = lookup_property(c.data_mut(), &path).ok_or(Status::NotFound)?;
    guest::return_bytes(c, &value, ptr_ptr, size_ptr)
}

fn set_property(
    c: &mut HostCaller<'_>,
    pptr: i32,
    plen: i32,
    vptr: i32,
    vlen: i32,
) -> HostResult<()> {
    let path = parse_path(&guest::read(c, pptr, plen)?);
    let value = guest::read(c, vptr, vlen)?;
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
    kptr: i32,
    klen: i32,
    ptr_ptr: i32,
    size_ptr: i32,
    cas_ptr: i32,
) -> HostResult<()> {
    let key = guest::read_string(c, kptr, klen)?;
    let (value, cas) = c
        .data()
        .shared_data
        .get(&key)
        .cloned()
        .ok_or(Status::NotFound)?;
    guest::return_bytes(c, &value, ptr_ptr, size_ptr)?;
    guest::write_u32(c, cas_ptr, cas)
}

fn set_shared_data(
    c: &mut HostCaller<'_>,
    kptr: i32,
    klen: i32,
    vptr: i32,
    vlen: i32,
    cas: u32,
) -> HostResult<()> {
    let key = guest::read_string(c, kptr, klen)?;
    let value = guest::read(c, vptr, vlen)?;
    let data = &mut c.data_mut().shared_data;
    let current = data.get(&key).map(|(_, cas)| *cas).unwrap_or(0);
    if cas != 0 && cas != current {
        return Err(Status::CasMismatch.into());
    }
    data.insert(key, (value, current.wrapping_add(1).max(1)));
    Ok(())
}

fn register_queue(c: &mut HostCaller<'_>, nptr: i32, nlen: i32, ret: i32) -> HostResult<()> {
    let name = guest::read_string(c, nptr, nlen)?;
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

fn resolve_queue(
    c: &mut HostCaller<'_>,
    vptr: i32,
    vlen: i32,
    nptr: i32,
    nlen: i32,
    ret: i32,
) -> HostResult<()> {
    let vm_id = guest::read_string(c, vptr, vlen)?;
    let name = guest::read_string(c, nptr, nlen)?;
    let index = c
        .data()
        .queues
        .names
        .iter()
        .position(|(v, n)| *v == vm_id && *n == name)
        .ok_or(Status::NotFound)?;
    guest::write_u32(c, ret, index as u32 + 1)
}

fn enqueue(c: &mut HostCaller<'_>, id: u32, vptr: i32, vlen: i32) -> HostResult<()> {
    let value = guest::read(c, vptr, vlen)?;
    let queue = id
        .checked_sub(1)
        .and_then(|i| c.data_mut().queues.queues.get_mut(i as usize))
        .ok_or(Status::NotFound)?;
    queue.push_back(value);
    Ok(())
}

fn dequeue(c: &mut HostCaller<'_>, id: u32, ptr_ptr: i32, size_ptr: i32) -> HostResult<()> {
    let queue = id
        .checked_sub(1)
        .and_then(|i| c.data_mut().queues.queues.get_mut(i as usize))
        .ok_or(Status::NotFound)?;
    let value = queue.pop_front().ok_or(Status::Empty)?;
    guest::return_bytes(c, &value, ptr_ptr, size_ptr)
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

fn send_local_response(
    c: &mut HostCaller<'_>,
    code: u32,
    details: (i32, i32),
    body: (i32, i32),
    headers: (i32, i32),
    grpc_status: i32,
) -> HostResult<()> {
    let details = guest::read_string(c, details.0, details.1)?;
    let body = guest::read(c, body.0, body.1)?;
    let header_bytes = guest::read(c, headers.0, headers.1)?;
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

fn define_metric(
    c: &mut HostCaller<'_>,
    kind: i32,
    nptr: i32,
    nlen: i32,
    ret: i32,
) -> HostResult<()> {
    let kind = MetricType::from_raw(kind).ok_or(Status::BadArgument)?;
    let name = guest::read_string(c, nptr, nlen)?;
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
