#!/bin/bash
# deb postinst / rpm %post (run as root). electron-builder's own steps (command link,
# chrome-sandbox mode, desktop and MIME databases, AppArmor) kept as in its template,
# then Ferry's: install ferry-helper's systemd units and start its socket, so the app can
# start tunnels without root. ${executable} and ${sanitizedProductName} are filled in by
# electron-builder.

if type update-alternatives >/dev/null 2>&1; then
    if [ -L '/usr/bin/${executable}' -a -e '/usr/bin/${executable}' -a "`readlink '/usr/bin/${executable}'`" != '/etc/alternatives/${executable}' ]; then
        rm -f '/usr/bin/${executable}'
    fi
    update-alternatives --install '/usr/bin/${executable}' '${executable}' '/opt/${sanitizedProductName}/${executable}' 100 || ln -sf '/opt/${sanitizedProductName}/${executable}' '/usr/bin/${executable}'
else
    ln -sf '/opt/${sanitizedProductName}/${executable}' '/usr/bin/${executable}'
fi

# SUID chrome-sandbox only where unprivileged user namespaces do not work.
if ! { [[ -L /proc/self/ns/user ]] && unshare --user true; }; then
    chmod 4755 '/opt/${sanitizedProductName}/chrome-sandbox' || true
else
    chmod 0755 '/opt/${sanitizedProductName}/chrome-sandbox' || true
fi

if hash update-mime-database 2>/dev/null; then
    update-mime-database /usr/share/mime || true
fi
if hash update-desktop-database 2>/dev/null; then
    update-desktop-database /usr/share/applications || true
fi

if apparmor_status --enabled > /dev/null 2>&1; then
  APPARMOR_PROFILE_SOURCE='/opt/${sanitizedProductName}/resources/apparmor-profile'
  APPARMOR_PROFILE_TARGET='/etc/apparmor.d/${executable}'
  if [ -f "$APPARMOR_PROFILE_SOURCE" ] && apparmor_parser --skip-kernel-load --debug "$APPARMOR_PROFILE_SOURCE" > /dev/null 2>&1; then
    cp -f "$APPARMOR_PROFILE_SOURCE" "$APPARMOR_PROFILE_TARGET"
    if ! { [ -x '/usr/bin/ischroot' ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
      apparmor_parser --replace --write-cache --skip-read-cache "$APPARMOR_PROFILE_TARGET"
    fi
  fi
fi

# ---- who may start tunnels: the ferry group ---------------------------------------------
# ferry-helper starts sessions only for root and members of "ferry" (a tunnel changes the
# machine's routes and DNS for everyone). The group is created here; the user who ran the
# installer through sudo or pkexec joins it (effective at their next login). Others are
# added by an administrator: sudo usermod -aG ferry NAME.
if ! getent group ferry >/dev/null 2>&1; then
    groupadd --system ferry || true
fi
INSTALLER="$SUDO_USER"
if [ -z "$INSTALLER" ] && [ -n "$PKEXEC_UID" ]; then
    INSTALLER="$(id -nu "$PKEXEC_UID" 2>/dev/null || true)"
fi
if [ -n "$INSTALLER" ] && [ "$INSTALLER" != root ] && id "$INSTALLER" >/dev/null 2>&1; then
    usermod -aG ferry "$INSTALLER" || true
fi

# ---- ferry-helper (native/linux/ferry-helper.{service,socket}) -------------------------
UNIT_SOURCE='/opt/${sanitizedProductName}/resources/linux'
UNIT_DIR=/usr/lib/systemd/system
if [ -d "$UNIT_SOURCE" ] && [ -d /usr/lib/systemd ]; then
    install -d -m 0755 "$UNIT_DIR"
    install -m 0644 "$UNIT_SOURCE/ferry-helper.service" "$UNIT_DIR/ferry-helper.service"
    install -m 0644 "$UNIT_SOURCE/ferry-helper.socket" "$UNIT_DIR/ferry-helper.socket"
    # Only on a running systemd (not in a chroot or container build): enable and start the socket.
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
        systemctl enable --now ferry-helper.socket || true
        # An upgrade brings a new helper: restart a running one (its sessions' openvpn are stopped cleanly).
        systemctl try-restart ferry-helper.service || true
    fi
fi
