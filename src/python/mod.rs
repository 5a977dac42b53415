//! The Python side: discovering and querying interpreters, and making
//! environments with NumPy in them. Separate nouns, separate files (as uv
//! separates discovery, interpreter query and virtualenv creation), and one
//! builder for every uv command.

pub mod abi;
mod discovery;
pub mod index;
mod installer;
mod interpreter;
mod request;
mod uv;

pub use discovery::{Discovery, Found, NoMatch, PythonSource, SearchRoots, discover, discover_for};
pub use index::Indexes;
pub use installer::{Fetch, InstallError, Installer, InstallerChoice, Tool, venv_python};
pub use interpreter::{
    Interpreter, InterpreterError, check_file, find, not_answered, query_remembered, spawn_failure,
};
pub use request::{PythonRequest, PythonRequestError};
pub use uv::Uv;
