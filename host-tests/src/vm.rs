//! Compiling, linking and calling the module: one shared engine, compiled
//! modules cached per process and on disk (an unoptimised test build of the
//! compiler takes many seconds for the filter; an unchanged filter is compiled
//! once), a check that every import is provided, fuel so a runaway loop traps
//! instead of hanging, and calls that turn traps into errors naming the
//! callback, the trap and what the module logged (the SDK logs panics).

use crate::state::{HostState, TraceEntry};
use crate::{host, wasi};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;
use wasmtime::{Config, Engine, Extern, Instance, Linker, Module, Store, Val};

/// Instructions a single callback may execute before it is stopped (so a
/// runaway loop fails the test instead of hanging it).
pub const DEFAULT_FUEL_PER_CALL: u64 = 20_000_000_000;

/// The compiler: Winch (single-pass, compiles the filter several times faster
/// than Cranelift in an unoptimised test build) on x86_64, Cranelift
/// elsewhere; `AIRLOCK_HARNESS_COMPILER=cranelift|winch` overrides.
fn strategy() -> wasmtime::Strategy {
    match std::env::var("AIRLOCK_HARNESS_COMPILER").as_deref() {
        Ok("cranelift") => wasmtime::Strategy::Cranelift,
        Ok("winch") => wasmtime::Strategy::Winch,
        _ if cfg!(target_arch = "x86_64") => wasmtime::Strategy::Winch,
        _ => wasmtime::Strategy::Cranelift,
    }
}

/// Whether calls are metered with fuel: on unless `AIRLOCK_HARNESS_FUEL=off`. Metering
/// costs a counter update in every loop, so the benchmarks turn it off (Envoy has none).
fn fuel_metering() -> bool {
    static METERED: OnceLock<bool> = OnceLock::new();
    *METERED.get_or_init(|| std::env::var("AIRLOCK_HARNESS_FUEL").as_deref() != Ok("off"))
}

/// `AIRLOCK_HARNESS_PROFILER=perfmap` writes `/tmp/perf-<pid>.map`, so `perf report` can name
/// the module's functions.
fn profiler() -> wasmtime::ProfilingStrategy {
    match std::env::var("AIRLOCK_HARNESS_PROFILER").as_deref() {
        Ok("perfmap") => wasmtime::ProfilingStrategy::PerfMap,
        _ => wasmtime::ProfilingStrategy::None,
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.consume_fuel(fuel_metering());
        config.profiler(profiler());
        config.strategy(strategy());
        Engine::new(&config).unwrap_or_else(|e| panic!("wasmtime engine: {e:?}"))
    })
}

type CacheKey = (PathBuf, u64, Option<SystemTime>);

/// Compiles the module at `path`, or returns the copy compiled earlier in this
/// process if the file has not changed. Compiles one module at a time, so
/// parallel tests wait for one compilation instead of all doing it.
pub fn load_module(path: &Path) -> wasmtime::Result<Module> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Module>>> = OnceLock::new();
    let meta = std::fs::metadata(path)
        .map_err(|e| wasmtime::format_err!("cannot read {}: {e}", path.display()))?;
    let key = (
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
        meta.len(),
        meta.modified().ok(),
    );
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(module) = cache.get(&key) {
        return Ok(module.clone());
    }
    let bytes = std::fs::read(path)
        .map_err(|e| wasmtime::format_err!("cannot read {}: {e}", path.display()))?;
    let module = compile(&bytes)
        .map_err(|e| wasmtime::format_err!("cannot compile {}: {e:?}", path.display()))?;
    cache.insert(key, module.clone());
    Ok(module)
}

/// Where compiled modules are kept between test runs:
/// `AIRLOCK_HARNESS_CACHE` (`off` disables), else `<tmp>/airlock-host-tests-cache`.
fn disk_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("AIRLOCK_HARNESS_CACHE") {
        Some(dir) if dir == "off" => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(std::env::temp_dir().join("airlock-host-tests-cache")),
    }
}

/// Compiles `bytes`, reusing a compilation of the same bytes by the same
/// wasmtime build and configuration from the disk cache.
pub fn compile(bytes: &[u8]) -> wasmtime::Result<Module> {
    let engine = engine();
    let profiling = !matches!(profiler(), wasmtime::ProfilingStrategy::None);
    let Some(dir) = disk_cache_dir().filter(|_| !profiling) else {
        return Module::new(engine, bytes);
    };
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let file = dir.join(format!("{:016x}-{}.cwasm", hasher.finish(), bytes.len()));
    if file.is_file() {
        // SAFETY: the file is one this function wrote with `Module::serialize`
        // (renamed into place only once complete), named by a hash of the
        // source bytes and of the engine's compatibility hash; wasmtime also
        // rejects artifacts from another version or configuration.
        if let Ok(module) = unsafe { Module::deserialize_file(engine, &file) } {
            return Ok(module);
        }
    }
    let module = Module::new(engine, bytes)?;
    if let Ok(serialized) = module.serialize() {
        let partial = file.with_extension(format!("{}.partial", std::process::id()));
        let stored = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&partial, serialized))
            .and_then(|()| std::fs::rename(&partial, &file));
        if stored.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        prune(&dir, 8);
    }
    Ok(module)
}

/// Keeps the `keep` most recently written compiled modules in `dir`.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, old) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(old);
    }
}

/// The module's imports as `module.name`, in order.
pub fn module_imports(module: &Module) -> Vec<String> {
    module
        .imports()
        .map(|i| format!("{}.{}", i.module(), i.name()))
        .collect()
}

/// A linker with every host function this harness provides.
fn linker() -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine());
    host::add_to_linker(&mut linker)?;
    wasi::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Names of the module's imports that `linker` does not define.
fn missing_imports(
    linker: &Linker<HostState>,
    store: &mut Store<HostState>,
    module: &Module,
) -> Vec<String> {
    module
        .imports()
        .filter(|import| linker.get_by_import(&mut *store, import).is_none())
        .map(|import| {
            let ty = match import.ty() {
                wasmtime::ExternType::Func(f) => {
                    let list = |types: Vec<String>| types.join(", ");
                    format!(
                        "func({}) -> ({})",
                        list(f.params().map(|t| t.to_string()).collect()),
                        list(f.results().map(|t| t.to_string()).collect())
                    )
                }
                other => format!("{other:?}"),
            };
            format!("{}.{}: {ty}", import.module(), import.name())
        })
        .collect()
}

/// An instantiated module and its store.
pub struct Vm {
    pub store: Store<HostState>,
    instance: Instance,
    fuel_per_call: u64,
    /// Fuel every metered call took, summed.
    fuel_used: u64,
    /// Set by the first trap; every later call fails with it.
    trap: Option<String>,
}

impl Vm {
    pub fn new(module: &Module) -> wasmtime::Result<Vm> {
        let linker = linker()?;
        let mut store = Store::new(engine(), HostState::new());
        let missing = missing_imports(&linker, &mut store, module);
        if !missing.is_empty() {
            wasmtime::bail!(
                "the module imports functions this harness does not implement: {}",
                missing.join(", ")
            );
        }
        let exports: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
        if !exports.iter().any(|e| e.starts_with("proxy_abi_version_")) {
            wasmtime::bail!("not a proxy-wasm module: it exports no proxy_abi_version_* function");
        }
        if fuel_metering() {
            store.set_fuel(DEFAULT_FUEL_PER_CALL)?;
        }
        let instance = linker
            .instantiate(&mut store, module)
            .map_err(|e| wasmtime::format_err!("cannot instantiate the module: {e:?}"))?;
        let memory = instance.get_memory(&mut store, "memory");
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "malloc"))
            .ok();
        let state = store.data_mut();
        state.memory = memory;
        state.alloc = alloc;
        Ok(Vm {
            store,
            instance,
            fuel_per_call: DEFAULT_FUEL_PER_CALL,
            fuel_used: 0,
            trap: None,
        })
    }

    pub fn set_fuel_per_call(&mut self, fuel: u64) {
        self.fuel_per_call = fuel;
    }

    /// The fuel all metered calls took so far.
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    pub fn has_export(&mut self, name: &str) -> bool {
        self.instance.get_func(&mut self.store, name).is_some()
    }

    pub fn trap(&self) -> Option<&str> {
        self.trap.as_deref()
    }

    /// Calls export `name` with i32 arguments as context `context` (0 for
    /// none). Returns None if the module does not export it, else its i32
    /// result (0 for functions without one). A trap is returned as an error
    /// and poisons the VM.
    pub fn call(
        &mut self,
        context: u32,
        name: &str,
        args: &[i32],
    ) -> wasmtime::Result<Option<i32>> {
        if let Some(trap) = &self.trap {
            wasmtime::bail!("the VM trapped earlier and is unusable: {trap}");
        }
        let Some(Extern::Func(func)) = self.instance.get_export(&mut self.store, name) else {
            return Ok(None);
        };
        let params: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let mut results = vec![Val::I32(0); func.ty(&self.store).results().len()];
        if fuel_metering() {
            self.store.set_fuel(self.fuel_per_call)?;
        }
        let logs_before = self.store.data().logs.len();
        let stderr_before = self.store.data().stderr.len();
        {
            let state = self.store.data_mut();
            state.active_context = context;
            state.effective_context = context;
        }
        let fuel = self.fuel_per_call;
        if let Some(trace) = self.store.data_mut().call_trace.as_mut() {
            trace.push(TraceEntry::Callback {
                name: name.to_string(),
                fuel,
            });
        }
        let outcome = func.call(&mut self.store, &params, &mut results);
        if fuel_metering() {
            let left = self.store.get_fuel().unwrap_or(0);
            self.fuel_used += self.fuel_per_call.saturating_sub(left);
            if let Some(trace) = self.store.data_mut().call_trace.as_mut() {
                trace.push(TraceEntry::Return { fuel_left: left });
            }
        }
        {
            let state = self.store.data_mut();
            state.active_context = 0;
            state.effective_context = 0;
        }
        if let Err(err) = outcome {
            let state = self.store.data();
            if name == "_start" && state.exit_code == Some(0) {
                return Ok(Some(0));
            }
            let logged: Vec<&str> = state
                .logs
                .get(logs_before..)
                .unwrap_or_default()
                .iter()
                .filter(|l| l.level >= crate::abi::LogLevel::Error)
                .map(|l| l.message.as_str())
                .collect();
            let cause = match err.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => format!("{trap}"),
                None => format!("{err}"),
            };
            let mut message = format!("wasm trap in {name}{args:?}: {cause}");
            if !logged.is_empty() {
                message.push_str(&format!(
                    "\nthe module logged before trapping: {}",
                    logged.join(" | ")
                ));
            }
            let stderr =
                String::from_utf8_lossy(state.stderr.get(stderr_before..).unwrap_or_default());
            if !stderr.trim().is_empty() {
                message.push_str(&format!("\nmodule stderr: {}", stderr.trim()));
            }
            message.push_str(&format!("\ndetails: {err:?}"));
            self.trap = Some(message.clone());
            wasmtime::bail!(message);
        }
        Ok(Some(match results.first() {
            Some(Val::I32(v)) => *v,
            Some(Val::I64(v)) => *v as i32,
            _ => 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    //! The host functions called directly, without a module: the answers that
    //! need no guest memory, and the trap when one does.
    use super::{engine, linker, HostState};
    use crate::abi::{errno, Status};
    use wasmtime::{Linker, Store, Val, ValType};

    struct Imports {
        linker: Linker<HostState>,
        store: Store<HostState>,
    }

    impl Imports {
        fn new() -> Imports {
            let linker = linker().unwrap_or_else(|e| panic!("linker: {e:?}"));
            Imports {
                linker,
                store: Store::new(engine(), HostState::new()),
            }
        }

        /// Calls `module.name` with `first` as its first argument and zeros after it.
        fn call(&mut self, module: &str, name: &str, first: i32) -> wasmtime::Result<i32> {
            let func = self
                .linker
                .get(&mut self.store, module, name)
                .ok()
                .and_then(|e| e.into_func())
                .unwrap_or_else(|| panic!("{module}.{name} is not defined"));
            let ty = func.ty(&self.store);
            let args: Vec<Val> = ty
                .params()
                .enumerate()
                .map(|(i, t)| {
                    let v = if i == 0 { first } else { 0 };
                    match t {
                        ValType::I64 => Val::I64(v.into()),
                        _ => Val::I32(v),
                    }
                })
                .collect();
            let mut results = [Val::I32(-1)];
            func.call(&mut self.store, &args, &mut results)?;
            Ok(results[0].unwrap_i32())
        }

        fn answer(&mut self, module: &str, name: &str, first: i32) -> i32 {
            self.call(module, name, first)
                .unwrap_or_else(|e| panic!("{module}.{name} trapped: {e:?}"))
        }
    }

    const WASI: &str = "wasi_snapshot_preview1";

    #[test]
    fn imports_this_host_does_not_provide() {
        let mut imports = Imports::new();
        let unimplemented = Status::Unimplemented.code();
        let not_found = Status::NotFound.code();
        assert_eq!(imports.answer("env", "proxy_http_call", 0), unimplemented);
        assert_eq!(imports.answer("env", "proxy_grpc_call", 0), unimplemented);
        assert_eq!(imports.answer("env", "proxy_grpc_cancel", 0), not_found);
        assert_eq!(
            imports.answer("env", "proxy_call_foreign_function", 0),
            not_found
        );
        assert_eq!(
            imports.store.data().unimplemented_calls,
            ["proxy_http_call", "proxy_grpc_call"]
        );
    }

    #[test]
    fn wasi_descriptor_calls_answer_for_stdio_only() {
        let mut imports = Imports::new();
        for fd in 0..=2 {
            assert_eq!(imports.answer(WASI, "fd_close", fd), errno::SUCCESS);
            assert_eq!(imports.answer(WASI, "fd_seek", fd), errno::SPIPE);
            assert_eq!(imports.answer(WASI, "fd_tell", fd), errno::SPIPE);
        }
        for fd in [-1, 3, 7] {
            assert_eq!(imports.answer(WASI, "fd_sync", fd), errno::BADF);
            assert_eq!(imports.answer(WASI, "fd_seek", fd), errno::BADF);
            assert_eq!(imports.answer(WASI, "fd_write", fd), errno::BADF);
            assert_eq!(imports.answer(WASI, "fd_fdstat_get", fd), errno::BADF);
        }
        assert_eq!(imports.answer(WASI, "fd_prestat_get", 3), errno::BADF);
        assert_eq!(imports.answer(WASI, "path_open", 3), errno::NOENT);
        assert_eq!(imports.answer(WASI, "sched_yield", 0), errno::SUCCESS);
        assert_eq!(imports.answer(WASI, "clock_res_get", 9), errno::INVAL);
    }

    #[test]
    fn host_functions_map_results_to_status_codes() {
        let mut imports = Imports::new();
        let ok = Status::Ok.code();
        let bad = Status::BadArgument.code();
        assert_eq!(
            imports.answer("env", "proxy_set_tick_period_milliseconds", 250),
            ok
        );
        assert_eq!(imports.store.data().tick_period_ms, 250);
        assert_eq!(
            imports.answer("env", "proxy_set_effective_context", 999),
            bad
        );
        let root = imports.store.data().root_context_id as i32;
        assert_eq!(
            imports.answer("env", "proxy_set_effective_context", root),
            ok
        );
        assert_eq!(imports.answer("env", "proxy_log", 9), bad);
        // An empty message reads no memory.
        assert_eq!(imports.answer("env", "proxy_log", 2), ok);
        assert_eq!(imports.store.data().logs.len(), 1);
        // Writing needs the module's memory: without a module, a trap.
        let trap = imports.call("env", "proxy_get_log_level", 0);
        assert!(trap.is_err(), "wrote without a memory: {trap:?}");
        let trap = imports.call(WASI, "args_sizes_get", 0);
        assert!(trap.is_err(), "wrote without a memory: {trap:?}");
    }
}
