//! The built-in rules: the pools widely used crates keep for the life of
//! the process ([`known_pools`]), and sockets shared by design, made by a
//! static's initializer ([`shared_statics`], [`shared_initializer`]).

use super::{AllowSocket, Matcher};
use crate::site::{Frame, Origin};
use std::sync::LazyLock;

/// The built-in rules: sockets that widely used crates keep open for the
/// life of the process on purpose. On unless the configuration says
/// `known-pools = false` or the command line `--no-known-pools`.
///
/// | crate | what | matched by |
/// |---|---|---|
/// | mockito | every mock server's listener and the connections it accepts: a server thread serves until the process exits (pooled by `Server::new`; `Server::new_with_opts` never stops its thread either) | function `mockito::server::Server::bind_server*` |
/// | mockito 0.x (0.31 and older) | the one global server `mockito::server_url()` starts on first use, serving until the process exits | function `mockito::server::try_start*` |
/// | wiremock | the listeners of `MockServer::start()`'s static pool | function `wiremock::mock_server::pool::*` |
/// | httptest | the listeners of a `static ServerPool` | function `httptest::server_pool::*` |
/// | httpmock (0.7 to 0.9) | every server of `MockServer::start()`'s static pool and the connections it accepts: each runs on a thread its pool's generator spawned, serving until the process exits | function `httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR*` |
/// | tokio | the signal driver's socketpair, made once per process | function `tokio::signal::registry::globals*` |
pub fn known_pools() -> &'static [AllowSocket] {
    static KNOWN: LazyLock<Vec<AllowSocket>> = LazyLock::new(|| {
        [
            (
                "mockito::server::Server::bind_server*",
                "mockito's mock servers serve until the process exits",
            ),
            (
                "mockito::server::try_start*",
                "mockito 0.x's global server serves until the process exits",
            ),
            (
                "wiremock::mock_server::pool::*",
                "wiremock's pool of mock servers lives as long as the process",
            ),
            (
                "httptest::server_pool::*",
                "httptest's ServerPool keeps its servers for the life of the process",
            ),
            (
                "httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR*",
                "httpmock's pool of mock servers serves until the process exits",
            ),
            (
                "tokio::signal::registry::globals*",
                "tokio's signal driver keeps one socketpair per process",
            ),
        ]
        .into_iter()
        .map(|(glob, reason)| AllowSocket {
            built_in: true,
            ..AllowSocket::new(
                Matcher::Function(glob::Pattern::new(glob).expect("built-in globs are valid")),
                reason,
            )
        })
        .collect()
    });
    &KNOWN
}

/// The rule for sockets shared by design: those whose creation chain
/// passes through a static's initialization ([`shared_initializer`]). Each
/// test process makes such a socket once and keeps it for the tests after
/// it (under `cargo test`, the whole binary's); one process per test makes
/// it in every test that touches it, by design. On unless `shared` is
/// judged ([`Policy::set`](crate::policy::Policy::set)).
pub fn shared_statics() -> &'static AllowSocket {
    static SHARED: LazyLock<AllowSocket> = LazyLock::new(|| AllowSocket {
        built_in: true,
        ..AllowSocket::new(
            Matcher::Shared,
            "made once per process by a static's initializer",
        )
    });
    &SHARED
}

/// The frame that initialized a static on the way to the call, when the
/// chain (innermost to outermost, across spawns) passes through a one-time
/// initialization: `std::sync::Once`, `OnceLock`, `LazyLock`, `OnceCell`
/// (std's, once_cell's, tokio's), once_cell's `Lazy`, lazy_static, a
/// thread-local's lazy init. The initializer is the last frame outside
/// std and socket plumbing before the first such frame (`echo::SERVER::{{closure}}`).
///
/// A thread that runs an executor's tasks (a tokio worker) is not followed
/// to where it was spawned: a runtime kept in a static spawns its workers
/// once, but the tasks they run, and their sockets, are each test's own.
pub fn shared_initializer(origin: &Origin) -> Option<&Frame> {
    let stacks =
        std::iter::once(&origin.stack).chain(origin.spawned_by.iter().map(|spawn| &spawn.stack));
    let mut initializer = None;
    for stack in stacks {
        for frame in stack {
            if frame.function.as_deref().is_some_and(initializes_once) {
                return initializer;
            }
            if !frame.is_plumbing() {
                initializer = Some(frame);
            }
        }
        if stack.iter().any(runs_tasks) {
            break;
        }
    }
    None
}

/// True for a frame of an executor running a task it was handed.
fn runs_tasks(frame: &Frame) -> bool {
    const EXECUTORS: [&str; 5] = [
        "tokio::runtime::task::",
        "async_task::",
        "async_executor::",
        "futures_executor::",
        "rayon_core::",
    ];
    let path = frame.function.as_deref().unwrap_or_default();
    let path = path.trim_start_matches('<');
    EXECUTORS.iter().any(|executor| path.starts_with(executor))
}

/// True for a function of the machinery that runs an initializer once.
pub(super) fn initializes_once(function: &str) -> bool {
    let path = function.trim_start_matches('<');
    let initializing = [
        "::get_or_init",
        "::get_or_try_init",
        "::initialize",
        "::try_init",
        "::force",
    ]
    .iter()
    .any(|method| path.contains(method));
    let lazy_type = [
        "OnceLock",
        "OnceCell",
        "LazyLock",
        "thread_local",
        "std::thread::local::",
    ]
    .iter()
    .any(|name| path.contains(name));
    path.contains("::once::Once::call")
        || path.starts_with("once_cell::")
        || path.starts_with("lazy_static::")
        || (lazy_type && initializing)
}
