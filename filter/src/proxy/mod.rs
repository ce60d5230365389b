//! The proxy-wasm adapter: Envoy's callbacks in, engine calls out.
//!
//! Nothing here decides anything. The root context loads the configuration
//! and defines metrics; the HTTP context buffers the body, calls
//! [`Policy::inspect`](crate::Policy::inspect) once, and carries out the
//! verdict. Every host call's failure is handled (logged, counted or
//! ignored), never unwrapped: a trap would take the VM and every later
//! request on this worker down with it.

mod filter_state;
mod host;
mod http;
mod root;
mod signed;

proxy_wasm::main! {{
    std::panic::set_hook(Box::new(|info| {
        // Panics are denied by lints; if one happens anyway, say where before the VM traps.
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        host::log(host::LOG_CRITICAL, &format!("airlock: panic at {location}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> { Box::new(root::AirlockRoot::default()) });
}}
