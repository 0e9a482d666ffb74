#!/bin/sh
# Install this ibconsole bundle for one user (default prefix ~/.local) or system-wide
# (sudo ./install.sh /usr/local): the bundle folder to PREFIX/lib/ibconsole, the two commands
# to PREFIX/bin, the desktop entry, icons and AppStream metainfo to PREFIX/share.
# Uninstall: ./install.sh --uninstall [PREFIX]
set -eu

uninstall=no
if [ "${1:-}" = "--uninstall" ]; then
    uninstall=yes
    shift
fi
prefix="${1:-$HOME/.local}"
bundle="$(cd "$(dirname "$0")" && pwd)"
app="$prefix/lib/ibconsole"
bin="$prefix/bin"
share="$prefix/share"
sizes="16 24 32 48 64 128 256 512"

if [ "$uninstall" = yes ]; then
    rm -rf "$app"
    rm -f "$bin/ibconsole" "$bin/ibconsole-sim" "$bin/ibconsole-signal" \
        "$share/applications/ibconsole.desktop" \
        "$share/metainfo/io.github.ibconsole.metainfo.xml" \
        "$share/icons/hicolor/scalable/apps/ibconsole.svg"
    for size in $sizes; do
        rm -f "$share/icons/hicolor/${size}x${size}/apps/ibconsole.png"
    done
    echo "ibconsole removed from $prefix"
    exit 0
fi

resources="$bundle/_internal/resources"
if [ ! -x "$bundle/ibconsole" ] || [ ! -d "$resources" ]; then
    echo "install.sh: run it from the unpacked ibconsole bundle folder (found no $bundle/ibconsole)" >&2
    exit 2
fi

mkdir -p "$app" "$bin" "$share/applications" "$share/metainfo" \
    "$share/icons/hicolor/scalable/apps"
if [ "$bundle" != "$app" ]; then
    rm -rf "$app"
    cp -R "$bundle" "$app"
fi
ln -sf "$app/ibconsole" "$bin/ibconsole"
ln -sf "$app/ibconsole-sim" "$bin/ibconsole-sim"
ln -sf "$app/ibconsole-signal" "$bin/ibconsole-signal"

for size in $sizes; do
    mkdir -p "$share/icons/hicolor/${size}x${size}/apps"
    cp "$resources/icons/ibconsole-$size.png" "$share/icons/hicolor/${size}x${size}/apps/ibconsole.png"
done
cp "$resources/icons/ibconsole.svg" "$share/icons/hicolor/scalable/apps/ibconsole.svg"
cp "$resources/io.github.ibconsole.metainfo.xml" "$share/metainfo/"
# The menu entry runs the installed command by its full path: PREFIX/bin need not be on the
# PATH of the desktop session.
sed -e "s|^Exec=ibconsole|Exec=$bin/ibconsole|" -e "s|^TryExec=ibconsole|TryExec=$bin/ibconsole|" \
    "$resources/ibconsole.desktop" > "$share/applications/ibconsole.desktop"

if command -v update-desktop-database > /dev/null 2>&1; then
    update-desktop-database -q "$share/applications" || true
fi
if command -v gtk-update-icon-cache > /dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
fi
echo "ibconsole installed in $app; run: $bin/ibconsole --demo"
