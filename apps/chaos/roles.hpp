#pragma once

// The two roles of ringvisor-chaos, one binary: the controller starts node
// processes of the same binary with `node` as first argument.

namespace ringvisor::chaos {

/// Runs one cluster node (`ringvisor-chaos node [node options]`); `argv[0]`
/// is `node`. Returns the process's exit code.
int run_node(int argc, char** argv);

/// Runs a chaos run (`ringvisor-chaos [run options]`). Returns 0 if no
/// check failed, 1 if one did (or the run could not start), 2 on bad usage.
int run_controller(int argc, char** argv);

} // namespace ringvisor::chaos
