//! The window's commands, from one list (`src/ipc/list.rs`). Each entry
//! becomes a Tauri command here, a thin wrapper over its function in
//! [`crate::commands`] that the compiler checks against the entry: the
//! window's argument names (Tauri's camelCase of the entry's), their types,
//! the answer's type. [`handler`] registers every command, `build.rs` gives
//! each its permission from the same list, and the TypeScript `Commands`
//! type and the isolation frame's allowlist are written from it too
//! ([`signatures`], kept fresh by the bindings test). Nothing is listed twice
//! and no source text is read back.

use crate::accounts::AccountHandle;
use crate::commands::connect::Checklist;
use crate::commands::contacts::{CollectionPlanView, ContactsCheck, ContactsCopy, DavSide};
use crate::commands::cutover::MxCheck;
use crate::commands::demo::DemoSetup;
use crate::commands::discover::Found;
use crate::commands::files::{FilesFound, FilesId, FilesView, KeepFormat};
use crate::commands::folder_map::{FolderEdits, FolderMapView};
use crate::commands::google_dav::GoogleDavSignedIn;
use crate::commands::graph::GraphSignedIn;
use crate::commands::job::SavedJob;
use crate::commands::mailboxes::{
    AdminSignedIn, DirectoryList, DirectorySignIn, MailboxChoice, MailboxRow, MailboxSize,
    PairNames, SizeEstimate,
};
use crate::commands::servers::Server;
use crate::commands::sign_in::SignedIn;
use crate::commands::verify::{LogLine, Verification};
use crate::domains::{CopyStage, DomainId, DomainView, PairHandles};
use crate::error::{IpcError, IpcResult};
use crate::runs::{RunId, RunView};
use crate::watching::WatchView;
use mailferry::preset::Preset;
use mailferry::scan::Scan;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};

/// Expands the list: the commands (module [`handlers`]), [`handler`],
/// [`COMMANDS`] and, for the bindings test, [`signatures`].
macro_rules! commands {
    ($( ( $kind:ident $module:ident :: $name:ident $([$($state:ident),*])?
          ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty ) )*) => {
        /// The Tauri commands, one per entry of the list, each named after
        /// the function it calls.
        pub mod handlers {
            use super::*;
            $( commands!(@command $kind $module $name [$($($state)*)?] ($($arg: $ty),*) $ret); )*
        }

        /// Every command's name, in the list's order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// The invoke handler with every command of the list.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            use handlers::*;
            tauri::generate_handler![$($name),*]
        }

        /// Every command as the window sees it.
        #[cfg(test)]
        pub(crate) fn signatures(cfg: &ts_rs::Config) -> Vec<Signature> {
            vec![$(
                Signature {
                    name: stringify!($name),
                    args: vec![$( (camel(stringify!($arg)), (&Probe::<$ty>::new()).ts(cfg)) ),*],
                    ret: (&Probe::<$ret>::new()).ts(cfg),
                }
            ),*]
        }
    };
    (@command fn $module:ident $name:ident [$($state:ident)*] ($($arg:ident : $ty:ty),*) $ret:ty) => {
        #[doc = concat!("The window's `", stringify!($name), "`: calls [`crate::commands::", stringify!($module), "::", stringify!($name), "`].")]
        #[tauri::command]
        #[allow(unused_variables, clippy::too_many_arguments)] // `app`: only for the shell's state
        pub fn $name(app: AppHandle, $($arg: $ty),*) -> IpcResult<$ret> {
            Reply::<$ret, _>::reply(crate::commands::$module::$name(
                $(from_app(&app, stringify!($state)),)* $($arg),*
            ))
        }
    };
    (@command async $module:ident $name:ident [$($state:ident)*] ($($arg:ident : $ty:ty),*) $ret:ty) => {
        #[doc = concat!("The window's `", stringify!($name), "`: calls [`crate::commands::", stringify!($module), "::", stringify!($name), "`].")]
        #[tauri::command]
        #[allow(unused_variables, clippy::too_many_arguments)] // `app`: only for the shell's state
        pub async fn $name(app: AppHandle, $($arg: $ty),*) -> IpcResult<$ret> {
            Reply::<$ret, _>::reply(crate::commands::$module::$name(
                $(from_app(&app, stringify!($state)),)* $($arg),*
            ).await)
        }
    };
}

include!("ipc/list.rs");

/// What a command takes from the shell rather than from the window: a piece
/// of its managed state, or the app itself.
pub trait FromApp<'a> {
    /// Takes it from the app.
    fn from_app(app: &'a AppHandle) -> Self;
}

impl<'a, T: Send + Sync + 'static> FromApp<'a> for State<'a, T> {
    fn from_app(app: &'a AppHandle) -> Self {
        app.state::<T>()
    }
}

impl FromApp<'_> for AppHandle {
    fn from_app(app: &AppHandle) -> Self {
        app.clone()
    }
}

/// The shell's state a command takes; `_name` is the list's word for it.
fn from_app<'a, T: FromApp<'a>>(app: &'a AppHandle, _name: &str) -> T {
    T::from_app(app)
}

/// A command's answer as the window gets it: its value, or the
/// [`IpcError`] it failed with. `M` tells a plain value from a result.
pub trait Reply<T, M> {
    /// The answer.
    fn reply(self) -> IpcResult<T>;
}

/// [`Reply`] of a command that cannot fail.
pub enum Plain {}
/// [`Reply`] of a command that can.
pub enum Fallible {}

impl<T> Reply<T, Plain> for T {
    fn reply(self) -> IpcResult<T> {
        Ok(self)
    }
}

impl<T> Reply<T, Fallible> for Result<T, IpcError> {
    fn reply(self) -> IpcResult<T> {
        self
    }
}

/// One command as the window calls it.
#[cfg(test)]
pub(crate) struct Signature {
    pub name: &'static str,
    /// Each argument's name (camelCase, as Tauri reads it) and TypeScript type.
    pub args: Vec<(String, String)>,
    /// The TypeScript type of the answer.
    pub ret: String,
}

/// Tauri's name for an argument: the Rust name in camelCase.
#[cfg(test)]
fn camel(name: &str) -> String {
    let mut parts = name.split('_');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The TypeScript type of `T`, chosen at the call site by method lookup: a
/// `Channel` and `()` are Tauri's and ours, everything else is ts-rs's.
#[cfg(test)]
pub(crate) struct Probe<T>(std::marker::PhantomData<T>);

#[cfg(test)]
impl<T> Probe<T> {
    fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

#[cfg(test)]
trait ChannelType {
    fn ts(&self, cfg: &ts_rs::Config) -> String;
}

#[cfg(test)]
impl<T: ts_rs::TS> ChannelType for Probe<Channel<T>> {
    fn ts(&self, cfg: &ts_rs::Config) -> String {
        format!("Channel<{}>", T::name(cfg))
    }
}

#[cfg(test)]
trait UnitType {
    fn ts(&self, cfg: &ts_rs::Config) -> String;
}

#[cfg(test)]
impl UnitType for Probe<()> {
    fn ts(&self, _: &ts_rs::Config) -> String {
        "void".to_owned()
    }
}

#[cfg(test)]
trait DataType {
    fn ts(&self, cfg: &ts_rs::Config) -> String;
}

#[cfg(test)]
impl<T: ts_rs::TS> DataType for &Probe<T> {
    fn ts(&self, cfg: &ts_rs::Config) -> String {
        T::name(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_named_as_tauri_reads_them() {
        assert_eq!(camel("skip_larger_than"), "skipLargerThan");
        assert_eq!(camel("run"), "run");
        assert_eq!(camel("on_update"), "onUpdate");
    }

    #[test]
    fn a_channel_and_nothing_have_their_own_types() {
        let cfg = ts_rs::Config::default();
        assert_eq!(
            Probe::<Channel<RunView>>::new().ts(&cfg),
            "Channel<RunView>"
        );
        assert_eq!(Probe::<()>::new().ts(&cfg), "void");
        assert_eq!((&Probe::<Option<RunId>>::new()).ts(&cfg), "RunId | null");
    }

    #[test]
    fn every_command_is_listed_once() {
        let mut names = COMMANDS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "a command listed twice");
    }
}
