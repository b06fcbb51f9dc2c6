// Package library keeps the scripts stored in the database, Lua rules
// (TransformationRules) and uploaded WASM modules, loaded in this process's
// runtimes and registry, and is what the REST API changes them through.
//
// A write (create, update, upload, delete) compiles first, so a syntax
// error or a module that does not compile is refused before anything is
// stored; then it is stored; then applied here. Other instances sharing the
// database apply it at their next Sync: Run calls Sync periodically (every
// DefaultSyncInterval in weft serve), comparing each rule's content and each
// module's SHA-256 with what is loaded and applying the differences.
package library
