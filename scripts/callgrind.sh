# Shared by the scripts that count instructions with callgrind
# (instructions.sh, core_instructions.sh); sourced, not run.

# Exits with a clear message when valgrind is missing; $1 names the caller.
require_valgrind() {
    command -v valgrind >/dev/null 2>&1 || {
        echo "$1: valgrind missing (apt-get install valgrind)" >&2
        exit 1
    }
}

# callgrind_count COMMAND...: the instructions of one whole run of COMMAND.
callgrind_count() {
    local out
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
    awk '/^summary:/ { print $2 }' "$out"
    rm -f "$out"
}
