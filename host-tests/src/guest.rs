//! Reading and writing the module's linear memory from host functions,
//! handing it host data through its exported allocator
//! (`proxy_on_memory_allocate`, or `malloc`), and defining host functions
//! ([`imports!`], [`define_answer`]) for both import modules (`env` in
//! `host.rs`, `wasi_snapshot_preview1` in `wasi.rs`).

use crate::abi::Status;
use crate::state::HostState;
use wasmtime::{Caller, Extern, FuncType, Linker, Memory, Val, ValType};

pub type HostCaller<'a> = Caller<'a, HostState>;

/// Why a host function stops early: a proxy-wasm status to return to the
/// module, or an error that becomes a trap (e.g. the allocator trapped).
#[derive(Debug)]
pub enum Fault {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for Fault {
    fn from(status: Status) -> Self {
        Fault::Status(status)
    }
}

impl From<wasmtime::Error> for Fault {
    fn from(err: wasmtime::Error) -> Self {
        Fault::Trap(err)
    }
}

pub type HostResult<T> = Result<T, Fault>;

/// A region of the module's memory: pointer and length.
pub type Slice = (i32, i32);

/// Where the module wants bytes handed back: the addresses at which to store
/// their pointer and their size.
pub type ReturnSlots = (i32, i32);

/// Turns a host function's result into what the import returns: a status code,
/// or a trap.
pub fn status(result: HostResult<()>) -> wasmtime::Result<i32> {
    match result {
        Ok(()) => Ok(Status::Ok.code()),
        Err(Fault::Status(s)) => Ok(s.code()),
        Err(Fault::Trap(e)) => Err(e),
    }
}

/// Defines host functions in `linker` under `module`, one an entry:
/// `"name" => |c, arg: i32, ...| body;`, where `c` is the caller (a
/// `&mut HostCaller`) and `body` gives a [`HostResult<()>`] that `code` turns
/// into what the import returns: a proxy-wasm status ([`status`]) or a WASI
/// errno. `body` may also `return` that value early (so a `?` in it would
/// leave the import, not give its result: it does not compile, as neither
/// [`Fault`] nor [`Status`] is an error a trap can carry). The `?` after each
/// definition returns a linking error from the enclosing function.
macro_rules! imports {
    ($linker:expr, $module:expr, $code:expr, {
        $($name:expr => |$c:ident $(, $arg:ident: $ty:ty)*| $body:expr;)*
    }) => {
        $(
            $linker.func_wrap(
                $module,
                $name,
                move |mut caller: $crate::guest::HostCaller<'_> $(, $arg: $ty)*| {
                    $crate::guest::trace(&mut caller, $name);
                    let $c = &mut caller;
                    $code($body)
                },
            )?;
        )*
    };
}
pub(crate) use imports;

/// Notes the host call `name` and the fuel left when the module made it, if tracing
/// ([`HostState::call_trace`]).
pub fn trace(caller: &mut HostCaller<'_>, name: &str) {
    if caller.data().call_trace.is_some() {
        let fuel_left = caller.get_fuel().unwrap_or(0);
        if let Some(trace) = caller.data_mut().call_trace.as_mut() {
            trace.push(crate::state::TraceEntry::HostCall {
                name: name.to_string(),
                fuel_left,
            });
        }
    }
}

/// Defines `module.name` with `params` and one i32 result,
/// `answer(state, arguments)`: for the imports a host answers without
/// touching the module's memory.
pub fn define_answer(
    linker: &mut Linker<HostState>,
    module: &str,
    name: &str,
    params: &[ValType],
    answer: impl Fn(&mut HostState, &[Val]) -> i32 + Send + Sync + 'static,
) -> wasmtime::Result<()> {
    let ty = FuncType::new(linker.engine(), params.iter().cloned(), [ValType::I32]);
    linker.func_new(module, name, ty, move |mut caller, arguments, results| {
        let code = answer(caller.data_mut(), arguments);
        if let [result] = results {
            *result = Val::I32(code);
        }
        Ok(())
    })?;
    Ok(())
}

fn memory(caller: &mut HostCaller<'_>) -> HostResult<Memory> {
    if let Some(memory) = caller.data().memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(Fault::Trap(wasmtime::format_err!(
            "the module exports no memory named `memory`"
        ))),
    }
}

fn range(ptr: i32, len: i32, size: usize) -> HostResult<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len as u32 as usize)
        .ok_or(Status::InvalidMemoryAccess)?;
    if end > size {
        return Err(Status::InvalidMemoryAccess.into());
    }
    Ok(start..end)
}

/// Copies `len` bytes at `ptr` out of the module. A zero length reads nothing
/// (the pointer may then be null).
pub fn read(caller: &mut HostCaller<'_>, (ptr, len): Slice) -> HostResult<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let memory = memory(caller)?;
    let data = memory.data(&*caller);
    let r = range(ptr, len, data.len())?;
    Ok(data.get(r).ok_or(Status::InvalidMemoryAccess)?.to_vec())
}

/// Like [`read`], as (lossy) UTF-8.
pub fn read_string(caller: &mut HostCaller<'_>, slice: Slice) -> HostResult<String> {
    Ok(String::from_utf8_lossy(&read(caller, slice)?).into_owned())
}

/// Writes `bytes` at `ptr`.
pub fn write(caller: &mut HostCaller<'_>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let memory = memory(caller)?;
    let data = memory.data_mut(&mut *caller);
    let r = range(ptr, bytes.len() as i32, data.len())?;
    data.get_mut(r)
        .ok_or(Status::InvalidMemoryAccess)?
        .copy_from_slice(bytes);
    Ok(())
}

pub fn write_u32(caller: &mut HostCaller<'_>, ptr: i32, value: u32) -> HostResult<()> {
    write(caller, ptr, &value.to_le_bytes())
}

pub fn write_u64(caller: &mut HostCaller<'_>, ptr: i32, value: u64) -> HostResult<()> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Allocates `bytes.len()` bytes in the module with its allocator and copies
/// `bytes` there; returns the guest pointer (0 for an empty input, as Envoy does).
pub fn alloc_copy(caller: &mut HostCaller<'_>, bytes: &[u8]) -> HostResult<u32> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let alloc = caller.data().alloc.clone().ok_or_else(|| {
        Fault::Trap(wasmtime::format_err!(
            "the module exports neither `proxy_on_memory_allocate` nor `malloc`"
        ))
    })?;
    let ptr = alloc.call(&mut *caller, bytes.len() as i32)?;
    if ptr == 0 {
        return Err(Status::InvalidMemoryAccess.into());
    }
    write(caller, ptr, bytes)?;
    Ok(ptr as u32)
}

/// Hands `bytes` to the module: allocates and copies them, then stores the
/// pointer at `ptr_ptr` and the size at `size_ptr`.
pub fn return_bytes(
    caller: &mut HostCaller<'_>,
    bytes: &[u8],
    (ptr_ptr, size_ptr): ReturnSlots,
) -> HostResult<()> {
    let ptr = alloc_copy(caller, bytes)?;
    write_u32(caller, ptr_ptr, ptr)?;
    write_u32(caller, size_ptr, bytes.len() as u32)?;
    Ok(())
}
