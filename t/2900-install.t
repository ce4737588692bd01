#!/usr/bin/env bash
#
# make install DESTDIR=... puts the program, the man pages, the example
# config, the live config (only the first time), the systemd unit and the
# state directory where config.mk says, with sane modes; make uninstall takes
# them away again but leaves a config the admin changed.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

command -v make >/dev/null || skip_all "make not installed"
[ -f "$RF_TOP/config.mk" ] || skip_all "not configured"

root=$TRASH/root

# The directories as make sees them (config.mk keeps them unexpanded).
makevar() {
	make -s -C "$RF_TOP" --no-print-directory "print-$1"
}
sbindir=$(makevar sbindir)
mandir=$(makevar mandir)
sysconfdir=$(makevar sysconfdir)
localstatedir=$(makevar localstatedir)
unitdir=$(makevar systemdsystemunitdir)
like "$sbindir" '^/' "make knows sbindir ($sbindir)"

# mode FILE: its permission bits in octal.
mode() {
	stat -c %a "$1"
}

ok "make install DESTDIR=..." make -C "$RF_TOP" install DESTDIR="$root"

ok "reflectord installed" test -x "$root$sbindir/reflectord"
is "$(mode "$root$sbindir/reflectord")" 755 "reflectord is mode 755"
ok "installed reflectord runs (-V)" "$root$sbindir/reflectord" -V

shopt -s nullglob
pages=("$RF_TOP"/man/*.[1-8])
[ ${#pages[@]} -gt 0 ] || skip "no man pages in man/ yet"
for page in "${pages[@]}"; do
	name=${page##*/}
	f=$root$mandir/man${name##*.}/$name
	ok "man page $name installed in man${name##*.}" test -f "$f"
	is "$(mode "$f")" 644 "man page $name is mode 644"
done

etc=$root$sysconfdir/reflector
ok "example config installed" test -f "$etc/reflector.yml.example"
is "$(grep -c '' "$etc/reflector.yml.example")" "$(grep -c '' "$RF_TOP/conf/reflector.yml")" \
    "example config has every line of conf/reflector.yml"
unlike "$(cat "$etc/reflector.yml.example")" '@[A-Z]+@' "no @PLACEHOLDER@ left in the example"
is "$(mode "$etc/reflector.yml.example")" 644 "example config is mode 644"
ok "live config installed from the example" cmp "$etc/reflector.yml.example" "$etc/reflector.yml"
is "$(mode "$etc/reflector.yml")" 640 "live config is mode 640"

unit=$root$unitdir/reflectord.service
ok "systemd unit installed" test -f "$unit"
is "$(mode "$unit")" 644 "systemd unit is mode 644"
like "$(grep '^ExecStart=' "$unit")" "^ExecStart=$sbindir/reflectord -f -c $sysconfdir/reflector/reflector.yml\$" \
    "unit starts the installed reflectord with the installed config"
unlike "$(cat "$unit")" '@[A-Z]+@' "no @PLACEHOLDER@ left in the unit"

ok "state directory created" test -d "$root$localstatedir/lib/reflector"
is "$(mode "$root$localstatedir/lib/reflector")" 750 "state directory is mode 750"

# A second install must not overwrite the admin's config.
echo "# changed by the admin" >>"$etc/reflector.yml"
ok "make install again" make -C "$RF_TOP" install DESTDIR="$root"
like "$(tail -n 1 "$etc/reflector.yml")" '^# changed by the admin$' \
    "a second install keeps the live config"

ok "make uninstall DESTDIR=..." make -C "$RF_TOP" uninstall DESTDIR="$root"
nok "reflectord removed" test -e "$root$sbindir/reflectord"
for page in "${pages[@]}"; do
	name=${page##*/}
	nok "man page $name removed" test -e "$root$mandir/man${name##*.}/$name"
done
nok "example config removed" test -e "$etc/reflector.yml.example"
nok "systemd unit removed" test -e "$unit"
ok "the changed live config is kept" test -f "$etc/reflector.yml"

# Unchanged, it goes too, and with it the empty directories.
ok "make install once more" make -C "$RF_TOP" install DESTDIR="$root"
cp "$etc/reflector.yml.example" "$etc/reflector.yml"
ok "make uninstall" make -C "$RF_TOP" uninstall DESTDIR="$root"
nok "an unchanged live config is removed" test -e "$etc/reflector.yml"
nok "the empty state directory is removed" test -e "$root$localstatedir/lib/reflector"
left=$(find "$root" -type f)
is "$left" "" "no file left under DESTDIR"

done_testing
