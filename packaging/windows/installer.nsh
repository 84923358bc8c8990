; Ferry's NSIS additions (electron-builder.yml nsis.include). Ferry on Windows starts
; openvpn through OpenVPN's own interactive service (OpenVPNServiceInteractive, see
; native/windows/README.md), so the installer makes sure OpenVPN 2.6 is there:
;  - already installed (its interactive service exists): nothing to do;
;  - else the official OpenVPN MSI carried inside this installer is run with the service
;    and the drivers, WITHOUT the OpenVPN GUI feature; it was fetched and checked against
;    its SHA-256 pin at build time (scripts/fetch-engine.mjs, packaging/engine.json);
;  - if that fails or the service is still missing afterwards, the install stops with a
;    message saying what to do. Nothing is downloaded while installing or running.
; Feature names as in the MSI's own source (OpenVPN/openvpn-build, tag OpenVPN-2.6.19-I001,
; windows-msi/msi.wxs): "OpenVPN" holds openvpn.exe and openvpnserv.exe, which installs and
; starts OpenVPNServiceInteractive; "Drivers" with Drivers.OvpnDco, Drivers.TAPWindows6 and
; Drivers.Wintun. Left out: OpenVPN.GUI, and OpenVPN.Service (openvpnserv2, the
; auto-connect service for config-auto, which Ferry does not use and which needs .NET 4).
; Not run by anyone yet (see README).

!macro ferryHasInteractiveService _result
  nsExec::ExecToStack '"$SYSDIR\sc.exe" query OpenVPNServiceInteractive'
  Pop ${_result}
  Pop $R9
!macroend

!macro customInstall
  !insertmacro ferryHasInteractiveService $R0
  ${If} $R0 != 0
    DetailPrint "OpenVPN 2.6 is not installed: installing it (service and drivers, without its GUI)"
    InitPluginsDir
    File "/oname=$PLUGINSDIR\OpenVPN.msi" "${PROJECT_DIR}\build\engine\win-x64\OpenVPN.msi"
    ExecWait '"$SYSDIR\msiexec.exe" /i "$PLUGINSDIR\OpenVPN.msi" ADDLOCAL=OpenVPN,Drivers,Drivers.OvpnDco,Drivers.TAPWindows6,Drivers.Wintun /passive /norestart' $R1
    Delete "$PLUGINSDIR\OpenVPN.msi"
    ; 3010: installed, a restart is needed to finish (the drivers).
    ${If} $R1 != 0
    ${AndIf} $R1 != 3010
      MessageBox MB_OK|MB_ICONSTOP "Ferry needs OpenVPN 2.6, and installing it failed (msiexec exit code $R1).$\r$\nInstall OpenVPN 2.6 from openvpn.net (with its interactive service), then run this installer again."
      Abort "OpenVPN 2.6 could not be installed (msiexec exit code $R1)"
    ${EndIf}
    !insertmacro ferryHasInteractiveService $R0
    ${If} $R0 != 0
      MessageBox MB_OK|MB_ICONSTOP "OpenVPN was installed, but its interactive service (OpenVPNServiceInteractive) is missing.$\r$\nInstall OpenVPN 2.6 from openvpn.net (its interactive service comes with the $\"OpenVPN$\" feature), then run this installer again."
      Abort "OpenVPNServiceInteractive is missing after installing OpenVPN"
    ${EndIf}
  ${EndIf}
!macroend
