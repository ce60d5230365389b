//! The `wasi_snapshot_preview1` imports a Rust `wasm32-wasip1` module may use,
//! reduced to what a proxy-wasm filter needs: stdout/stderr captured, settable
//! environment and arguments, deterministic clocks and random bytes, no files
//! (no preopened directories), and `proc_exit` as an error.

use crate::abi::{errno, Status};
use crate::guest::{self, Fault, HostCaller, HostResult};
use crate::state::HostState;
use wasmtime::Linker;

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

/// Defines the WASI functions in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        WASI,
        "args_sizes_get",
        |mut c: HostCaller<'_>, count: i32, size: i32| {
            let args = c
                .data()
                .args
                .iter()
                .map(|a| format!("{a}\0"))
                .collect::<Vec<_>>();
            errno_of(sizes_get(&mut c, &args, count, size))
        },
    )?;
    linker.func_wrap(
        WASI,
        "args_get",
        |mut c: HostCaller<'_>, ptrs: i32, buf: i32| {
            let args = c
                .data()
                .args
                .iter()
                .map(|a| format!("{a}\0"))
                .collect::<Vec<_>>();
            errno_of(strings_get(&mut c, &args, ptrs, buf))
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut c: HostCaller<'_>, count: i32, size: i32| {
            let env = environ(c.data());
            errno_of(sizes_get(&mut c, &env, count, size))
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_get",
        |mut c: HostCaller<'_>, ptrs: i32, buf: i32| {
            let env = environ(c.data());
            errno_of(strings_get(&mut c, &env, ptrs, buf))
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_res_get",
        |mut c: HostCaller<'_>, id: i32, ret: i32| {
            if !(0..=3).contains(&id) {
                return Ok(errno::INVAL);
            }
            errno_of(guest::write_u64(&mut c, ret, 1_000))
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut c: HostCaller<'_>, id: i32, _precision: i64, ret: i32| {
            let now = match id {
                0 => c.data().clock.realtime_ns,
                1..=3 => c.data_mut().clock.monotonic(),
                _ => return Ok(errno::INVAL),
            };
            errno_of(guest::write_u64(&mut c, ret, now))
        },
    )?;
    linker.func_wrap(
        WASI,
        "random_get",
        |mut c: HostCaller<'_>, buf: i32, len: i32| {
            let mut bytes = vec![0u8; len as u32 as usize];
            c.data_mut().rng.fill(&mut bytes);
            errno_of(guest::write(&mut c, buf, &bytes))
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut c: HostCaller<'_>, fd: i32, iovs: i32, iovs_len: i32, written: i32| {
            if fd != 1 && fd != 2 {
                return Ok(errno::BADF);
            }
            errno_of(fd_write(&mut c, fd, iovs, iovs_len, written))
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_read",
        |mut c: HostCaller<'_>, fd: i32, _iovs: i32, _iovs_len: i32, read: i32| {
            if fd != 0 {
                return Ok(errno::BADF);
            }
            // stdin is empty.
            errno_of(guest::write_u32(&mut c, read, 0))
        },
    )?;
    linker.func_wrap(WASI, "fd_close", |_c: HostCaller<'_>, fd: i32| {
        Ok(if is_stdio(fd) {
            errno::SUCCESS
        } else {
            errno::BADF
        })
    })?;
    linker.func_wrap(WASI, "fd_sync", |_c: HostCaller<'_>, fd: i32| {
        Ok(if is_stdio(fd) {
            errno::SUCCESS
        } else {
            errno::BADF
        })
    })?;
    linker.func_wrap(WASI, "fd_datasync", |_c: HostCaller<'_>, fd: i32| {
        Ok(if is_stdio(fd) {
            errno::SUCCESS
        } else {
            errno::BADF
        })
    })?;
    linker.func_wrap(
        WASI,
        "fd_seek",
        |_c: HostCaller<'_>, fd: i32, _offset: i64, _whence: i32, _ret: i32| {
            Ok(if is_stdio(fd) {
                errno::SPIPE
            } else {
                errno::BADF
            })
        },
    )?;
    linker.func_wrap(WASI, "fd_tell", |_c: HostCaller<'_>, fd: i32, _ret: i32| {
        Ok(if is_stdio(fd) {
            errno::SPIPE
        } else {
            errno::BADF
        })
    })?;
    linker.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut c: HostCaller<'_>, fd: i32, buf: i32| {
            if !is_stdio(fd) {
                return Ok(errno::BADF);
            }
            // struct fdstat: filetype u8 (2 = character device), flags u16 at 2,
            // rights_base u64 at 8, rights_inheriting u64 at 16.
            let mut stat = [0u8; 24];
            stat[0] = 2;
            stat[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
            errno_of(guest::write(&mut c, buf, &stat))
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_fdstat_set_flags",
        |_c: HostCaller<'_>, fd: i32, _flags: i32| {
            Ok(if is_stdio(fd) {
                errno::SUCCESS
            } else {
                errno::BADF
            })
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_filestat_get",
        |_c: HostCaller<'_>, _fd: i32, _buf: i32| Ok(errno::BADF),
    )?;
    // No preopened directories: std stops looking at the first EBADF.
    linker.func_wrap(
        WASI,
        "fd_prestat_get",
        |_c: HostCaller<'_>, _fd: i32, _buf: i32| Ok(errno::BADF),
    )?;
    linker.func_wrap(
        WASI,
        "fd_prestat_dir_name",
        |_c: HostCaller<'_>, _fd: i32, _path: i32, _len: i32| Ok(errno::BADF),
    )?;
    linker.func_wrap(
        WASI,
        "path_open",
        |_c: HostCaller<'_>,
         _fd: i32,
         _dirflags: i32,
         _path: i32,
         _path_len: i32,
         _oflags: i32,
         _rights: i64,
         _inheriting: i64,
         _fdflags: i32,
         _ret: i32| Ok(errno::NOENT),
    )?;
    linker.func_wrap(
        WASI,
        "path_filestat_get",
        |_c: HostCaller<'_>, _fd: i32, _flags: i32, _path: i32, _len: i32, _buf: i32| {
            Ok(errno::NOENT)
        },
    )?;
    linker.func_wrap(
        WASI,
        "poll_oneoff",
        |_c: HostCaller<'_>, _in: i32, _out: i32, _n: i32, _ret: i32| Ok(errno::NOSYS),
    )?;
    linker.func_wrap(WASI, "sched_yield", |_c: HostCaller<'_>| Ok(errno::SUCCESS))?;
    linker.func_wrap(WASI, "proc_raise", |_c: HostCaller<'_>, _sig: i32| {
        Ok(errno::NOSYS)
    })?;
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
        let iov = guest::read(c, iovs.wrapping_add(8 * i), 8)?;
        let field = |at: usize| {
            iov.get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(i32::from_le_bytes)
                .unwrap_or(0)
        };
        out.extend(guest::read(c, field(0), field(4))?);
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
