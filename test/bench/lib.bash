# SPDX-License-Identifier: GPL-2.0-only
#
# Shared by the benchmark scripts (sourced, inside the test guest): the
# loader on $STORE, its status, medians. Set TREE and STORE first.

# the test suites' helpers: $KO, the helper module for the running kernel
# shellcheck source=test/bats/helpers.bash
. "$TREE/test/bats/helpers.bash"

LOADER_PID=
LOADER_LOG=${STORE:?}.log

# start_loader [ARGS...]: imasnap-load on $STORE, back when it follows IMA
start_loader() {
	local n
	n=$(grep -cs "following IMA" "$LOADER_LOG" || true)
	n=$((${n:-0} + 1))
	"$TREE/imasnap-load" --store "$STORE" "$@" >>"$LOADER_LOG" 2>&1 &
	LOADER_PID=$!
	until (($(grep -cs "following IMA" "$LOADER_LOG") >= n)); do
		kill -0 "$LOADER_PID"
		sleep 0.1
	done
}

stop_loader() {
	[[ -z $LOADER_PID ]] && return 0
	kill -TERM "$LOADER_PID"
	wait "$LOADER_PID"
	LOADER_PID=
}

# status_field NAME: the number of `imasnap status`'s "NAME: N" line
status_field() {
	"$TREE/imasnap" status --store "$STORE" | sed -n "s/^$1: \([0-9]*\).*/\1/p"
}

# until every entry the kernel listed is durable in the store; status parses
# both logs, which costs guest CPU: polled sparingly
wait_lag0() {
	until [[ $(status_field lag) == 0 ]]; do sleep 0.5; done
}

now() { date +%s.%N; }

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
