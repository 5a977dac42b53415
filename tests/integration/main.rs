//! The integration suite: one test binary (so its tests share one build and
//! run side by side) that drives the real `matrix` binary with real
//! interpreters, real NumPy wheels from the index, the real compiler and
//! real child processes, each test from a project folder of its own.
//! Pure logic (renderers, diff, merge, rules, the journal) is tested by unit
//! and snapshot tests beside the code instead.

mod common;
mod suite;
mod tools;

mod action;
mod answer;
mod cache;
mod ci;
mod cli;
mod damaged_cache;
mod declarations;
mod docs;
mod doctor;
mod faults;
mod hostile_text;
mod isolation;
mod live;
mod newcomer;
mod packages;
mod packaging;
mod pythons;
mod releases;
mod reports;
mod run;
mod sdists;
mod stable_abi;
mod truth;
mod users;
mod workflows;
