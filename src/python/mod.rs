//! The Python side: finding and querying interpreters, and making
//! environments with NumPy in them. Separate nouns, separate files (as uv
//! separates discovery, interpreter query and virtualenv creation).

mod installer;
mod interpreter;

pub use installer::{InstallError, Installer, InstallerChoice, UvOrigin, venv_python};
pub use interpreter::{Interpreter, InterpreterError, find, query};
