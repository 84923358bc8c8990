#!/bin/bash
# deb postrm / rpm %postun (run as root). Only on a real removal — deb: "remove"/"purge",
# rpm: 0 — not on an upgrade, where the new package's after-install has already run (rpm)
# or is about to (deb). Undoes after-install.sh: the helper's units, the command link,
# the AppArmor profile.

case "$1" in
    remove|purge|0) ;;
    *) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
    systemctl disable --now ferry-helper.socket ferry-helper.service >/dev/null 2>&1 || true
fi
rm -f /usr/lib/systemd/system/ferry-helper.service /usr/lib/systemd/system/ferry-helper.socket
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi

if type update-alternatives >/dev/null 2>&1; then
    update-alternatives --remove '${executable}' '/opt/${sanitizedProductName}/${executable}'
else
    rm -f '/usr/bin/${executable}'
fi

APPARMOR_PROFILE_DEST='/etc/apparmor.d/${executable}'
if [ -f "$APPARMOR_PROFILE_DEST" ]; then
  if apparmor_status --enabled > /dev/null 2>&1; then
    if ! { [ -x '/usr/bin/ischroot' ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
      apparmor_parser --remove "$APPARMOR_PROFILE_DEST" || true
    fi
  fi
  rm -f "$APPARMOR_PROFILE_DEST"
fi
