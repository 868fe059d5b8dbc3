# SPDX-License-Identifier: GPL-2.0-only
#
# Kernel reports (oops, warnings, lockdep, KASAN, list debugging) in a kernel
# log. From init on, where the helper and the BPF programs run, each is a
# failure: "boot N: <line>" on stdout. Before init they cannot come from
# them: they go to the file named by notes (seen: a KASAN report in
# rcu_is_watching at 0.01 s on the KASAN kernel under TCG, an interrupt
# during early CPU set-up).
#
#   awk -v boot=N -v notes=FILE -f kernel-problems.awk dmesg
#       one boot's dmesg
#   awk -v console=1 -f kernel-problems.awk console.log
#       the serial console of a run: only what each kernel printed after
#       guest-run handed over to the next boot or the power-off (the reboot
#       notifiers run then, after that boot's dmesg was saved); boots are
#       counted by their "Linux version" lines
BEGIN {
	re = "Oops|BUG:|WARNING:|general protection fault|Call Trace:|kernel panic|refcount_t:|UBSAN:|KASAN:|possible recursive locking|circular locking|list_add corruption|list_del corruption"
}
console && /Linux version / { boot++; init = 0; leaving = 0 }
console && /^guest-run: (boot [0-9]+: (kexec -e|reboot)|powering off)/ { leaving = 1 }
console && leaving && $0 ~ re { print "boot " boot " (at its end): " $0 }
console { next }
$0 ~ re && init { print "boot " boot ": " $0 }
$0 ~ re && !init && notes != "" { print "boot " boot ": " $0 >>notes }
/Run \/init as init process/ { init = 1 }
