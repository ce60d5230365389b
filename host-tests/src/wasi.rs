//! The `wasi_snapshot_preview1` imports a Rust `wasm32-wasip1` module may use,
//! reduced to what a proxy-wasm filter needs: stdout/stderr captured, settable
//! environment and arguments, deterministic clocks and random bytes, no files
//! (no preopened directories), and `proc_exit` as an error.

use crate::abi::{errno, Status};
use crate::guest::{self, define_answer, imports, Fault, HostCaller, HostResult};
use crate::state::HostState;
use wasmtime::{Linker, Val, ValType};

const WASI: &str = "wasi_snapshot_preview1";

/// Turns a WASI function's result into its errno, or a trap.
fn errno_of(result: HostResult<()>) -> wasmtime::Result<i32> {
    match result {
        Ok(()) => Ok(errno::SUCCESS),
        Err(Fault::Status(Status::InvalidMemoryAccess)) => Ok(errno::FAULT),
        Err(Fault::Status(_)) => Ok(errno::INVAL),
        Err(Fault::Trap(e)) => Err(e),
    }
}

fn is_stdio(fd: i32) -> bool {
    (0..=2).contains(&fd)
}

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

/// File-descriptor calls that look only at the descriptor: name, parameters,
/// and the errno for stdin/stdout/stderr (any other descriptor is not open).
const STDIO_ONLY: [(&str, &[ValType], i32); 6] = [
    ("fd_close", &[I32], errno::SUCCESS),
    ("fd_sync", &[I32], errno::SUCCESS),
    ("fd_datasync", &[I32], errno::SUCCESS),
    ("fd_fdstat_set_flags", &[I32, I32], errno::SUCCESS),
    ("fd_seek", &[I32, I64, I32, I32], errno::SPIPE),
    ("fd_tell", &[I32, I32], errno::SPIPE),
];

/// Calls with a fixed answer: name, parameters, errno. No preopened
/// directories (std stops looking at the first EBADF), so no files.
const FIXED: [(&str, &[ValType], i32); 8] = [
    ("fd_filestat_get", &[I32, I32], errno::BADF),
    ("fd_prestat_get", &[I32, I32], errno::BADF),
    ("fd_prestat_dir_name", &[I32, I32, I32], errno::BADF),
    (
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        errno::NOENT,
    ),
    (
        "path_filestat_get",
        &[I32, I32, I32, I32, I32],
        errno::NOENT,
    ),
    ("poll_oneoff", &[I32, I32, I32, I32], errno::NOSYS),
    ("sched_yield", &[], errno::SUCCESS),
    ("proc_raise", &[I32], errno::NOSYS),
];

/// The NUL-terminated strings of `args_*` or `environ_*`.
type Strings = fn(&HostState) -> Vec<String>;

/// Defines the WASI functions in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for (prefix, strings) in [("args", args as Strings), ("environ", environ)] {
        imports!(linker, WASI, errno_of, {
            &format!("{prefix}_sizes_get") => |c, count: i32, size: i32| {
                let list = strings(c.data());
                sizes_get(c, &list, count, size)
            };
            &format!("{prefix}_get") => |c, ptrs: i32, buf: i32| {
                let list = strings(c.data());
                strings_get(c, &list, ptrs, buf)
            };
        });
    }
    imports!(linker, WASI, errno_of, {
        "clock_res_get" => |c, id: i32, ret: i32| {
            if !(0..=3).contains(&id) {
                return Ok(errno::INVAL);
            }
            guest::write_u64(c, ret, 1_000)
        };
        "clock_time_get" => |c, id: i32, _precision: i64, ret: i32| {
            let now = match id {
                0 => c.data().clock.realtime_ns,
                1..=3 => c.data_mut().clock.monotonic(),
                _ => return Ok(errno::INVAL),
            };
            guest::write_u64(c, ret, now)
        };
        "random_get" => |c, buf: i32, len: i32| {
            let mut bytes = vec![0u8; len as u32 as usize];
            c.data_mut().rng.fill(&mut bytes);
            guest::write(c, buf, &bytes)
        };
        "fd_write" => |c, fd: i32, iovs: i32, iovs_len: i32, written: i32| {
            if fd != 1 && fd != 2 {
                return Ok(errno::BADF);
            }
            fd_write(c, fd, iovs, iovs_len, written)
        };
        "fd_read" => |c, fd: i32, _iovs: i32, _iovs_len: i32, read: i32| {
            if fd != 0 {
                return Ok(errno::BADF);
            }
            // stdin is empty.
            guest::write_u32(c, read, 0)
        };
        "fd_fdstat_get" => |c, fd: i32, buf: i32| {
            if !is_stdio(fd) {
                return Ok(errno::BADF);
            }
            // struct fdstat: filetype u8 (2 = character device), flags u16 at 2,
            // rights_base u64 at 8, rights_inheriting u64 at 16.
            let mut stat = [0u8; 24];
            stat[0] = 2;
            stat[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
            guest::write(c, buf, &stat)
        };
    });
    for (name, params, on_stdio) in STDIO_ONLY {
        define_answer(linker, WASI, name, params, move |_, args| {
            let fd = args.first().and_then(Val::i32);
            if fd.is_some_and(is_stdio) {
                on_stdio
            } else {
                errno::BADF
            }
        })?;
    }
    for (name, params, code) in FIXED {
        define_answer(linker, WASI, name, params, move |_, _| code)?;
    }
    linker.func_wrap(
        WASI,
        "proc_exit",
        |mut c: HostCaller<'_>, code: i32| -> wasmtime::Result<()> {
            c.data_mut().exit_code = Some(code);
            Err(wasmtime::format_err!("the module called proc_exit({code})"))
        },
    )?;
    Ok(())
}

fn args(state: &HostState) -> Vec<String> {
    state.args.iter().map(|a| format!("{a}\0")).collect()
}

fn environ(state: &HostState) -> Vec<String> {
    state
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}\0"))
        .collect()
}

/// `*_sizes_get`: the number of strings and their total size (NULs included).
fn sizes_get(c: &mut HostCaller<'_>, strings: &[String], count: i32, size: i32) -> HostResult<()> {
    let total: usize = strings.iter().map(String::len).sum();
    guest::write_u32(c, count, strings.len() as u32)?;
    guest::write_u32(c, size, total as u32)
}

/// `*_get`: the strings, NUL-terminated, packed at `buf`, and a pointer to each at `ptrs`.
fn strings_get(c: &mut HostCaller<'_>, strings: &[String], ptrs: i32, buf: i32) -> HostResult<()> {
    let mut at = buf as u32;
    for (i, s) in strings.iter().enumerate() {
        guest::write_u32(c, ptrs.wrapping_add(4 * i as i32), at)?;
        guest::write(c, at as i32, s.as_bytes())?;
        at = at.wrapping_add(s.len() as u32);
    }
    Ok(())
}

fn fd_write(
    c: &mut HostCaller<'_>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    written: i32,
) -> HostResult<()> {
    let mut out = Vec::new();
    for i in 0..iovs_len {
        let iov = guest::read(c, (iovs.wrapping_add(8 * i), 8))?;
        let field = |at: usize| {
            iov.get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(i32::from_le_bytes)
                .unwrap_or(0)
        };
        out.extend(guest::read(c, (field(0), field(4)))?);
    }
    let state = c.data_mut();
    if state.echo {
        eprint!("[wasm fd {fd}] {}", String::from_utf8_lossy(&out));
    }
    if fd == 1 {
        state.stdout.extend_from_slice(&out);
    } else {
        state.stderr.extend_from_slice(&out);
    }
    guest::write_u32(c, written, out.len() as u32)
}
