/**
 * The one message catalogue: failures (failures.ts) and notices and refusals (messages.ts)
 * in words, for everyone who shows one outside the window: the `ferry` CLI (in
 * the terminal's language) and the main process's tray and notifications (in the app's).
 * The window renders the same templates through its own i18n (renderer/src/locales: the
 * renderer imports no core code); test/unit/failure-text.test.ts keeps the two copies equal.
 *
 * Templates use i18next's `{{name}}` blanks, filled from the failure's params.
 */
import type { Failure, FailureCode, FailureDetail, NetworkError } from './failures.js';
import type { Cause, Message, MessageCode } from './messages.js';
import type { SessionState } from './snapshot.js';

export type Language = 'en' | 'zh-CN';

export interface FailureCatalogue {
  /** The heading: what kind of failure. */
  heading: Record<FailureCode, string> & { title: string };
  /** The explanation: what went wrong and what to do. */
  detail: Record<FailureDetail, string>;
  /** Words for the OS's network errors, the `error` param of unreachable*. */
  network: Record<NetworkError, string>;
  /** How the explanation is framed: openvpn's own line, a repeat, the reconnect timeout. */
  frame: { openvpnSaid: string; repeated: string; gaveUpConnecting: string; gaveUpReconnecting: string };
  /** Notices and refusals (messages.ts), filled with their params and `{{cause}}`. */
  message: Record<MessageCode, string>;
  /** A tunnel's state as a word in a message, the `state` param. */
  state: Record<SessionState, string>;
}

const SERVER_CERT_ADVICE_EN = 'ask your administrator to give the gateway a server certificate (key usage, and extended key usage "TLS Web Server Authentication", as easy-rsa build-server-full makes)';
const SERVER_CERT_ADVICE_ZH = '请管理员为网关配置服务器证书（带密钥用法，以及扩展密钥用法“TLS Web Server Authentication”，如 easy-rsa build-server-full 所生成的证书）';

export const EN: FailureCatalogue = {
  heading: {
    title: 'Connection failed',
    unreachable: 'The gateway cannot be reached',
    tls: 'The secure connection could not be set up',
    'cert-expired': 'Your certificate has expired',
    'cert-revoked': 'Your certificate has been revoked',
    auth: 'Wrong username or password',
    'connection-limit': 'Too many connections on this account',
    'pool-overlap': 'The VPN’s addresses clash with your local network',
    'openvpn-missing': 'OpenVPN is not installed',
    'helper-missing': 'The ferry-helper service is not running',
    'service-missing': 'OpenVPN’s interactive service cannot start the tunnel',
    'engine-died': 'The VPN engine stopped unexpectedly',
    'reconnect-timeout': 'Could not reconnect in time',
    config: 'The profile cannot be used as it is',
    'credentials-unavailable': 'No password was given',
  },
  detail: {
    'server-name-mismatch': 'the server\'s certificate is for "{{actual}}", not "{{expected}}" as the profile expects: you may be talking to the wrong server; check the gateway address or ask your administrator',
    'server-cert-expired': "the server's certificate has expired; tell your administrator",
    'server-cert-not-yet-valid': "the server's certificate is not valid yet: check that this computer's date and time are right, or tell your administrator",
    'server-cert-wrong-ca': "the server's certificate is not signed by this profile's CA certificate (wrong CA file, or not your organisation's server); import the CA certificate your administrator sent",
    'server-cert-no-key-usage': `the gateway's certificate has no key usage extension, which this profile's "remote-cert-tls server" check requires: ${SERVER_CERT_ADVICE_EN}`,
    'server-cert-no-eku': `the gateway's certificate has no extended key usage extension, which this profile's "remote-cert-tls server" check requires: ${SERVER_CERT_ADVICE_EN}`,
    'server-cert-key-usage': `the gateway's certificate has key usage {{usage}}, which this profile's "remote-cert-ku" check does not accept: ${SERVER_CERT_ADVICE_EN}`,
    'server-cert-not-tls-server': `the gateway's certificate is not a TLS server certificate (its extended key usage lacks "TLS Web Server Authentication", which "remote-cert-tls server" requires): check the gateway address, or ${SERVER_CERT_ADVICE_EN}`,
    'server-cert-not-server-ku': `the gateway's certificate does not have the key usage of a server certificate, which "remote-cert-tls server" requires: ${SERVER_CERT_ADVICE_EN}`,
    'server-cert-ns-type': `the gateway's certificate is not marked as a {{type}} certificate (Netscape cert type), which this profile's "ns-cert-type server" check requires: ${SERVER_CERT_ADVICE_EN}`,
    'cert-revoked': 'the gateway refused your certificate because it has been revoked; ask your administrator for a new account',
    'cert-expired-gateway': 'the gateway refused your certificate because it has expired; ask your administrator for a new one',
    'cert-unknown-ca': "the gateway did not accept your certificate (it was not issued by the gateway's CA); import the files your administrator sent for this gateway",
    'certificate-not-accepted': 'the gateway closed the connection during the TLS handshake: it does not accept your certificate (revoked, expired, or issued by another CA); ask your administrator for a valid one',
    'no-tls-version': 'the gateway and this profile have no TLS version in common: check the profile\'s "tls-version-min" against the gateway\'s, or ask your administrator',
    'no-tls-cipher': 'the gateway refused the TLS handshake, usually because no TLS cipher suite is in common: check the profile\'s "tls-cipher" and "tls-version-min" against the gateway\'s, or ask your administrator',
    'temp-refusal': 'the gateway refused the connection for now and asked to try again later',
    'temp-refusal-why': 'the gateway refused the connection for now ({{why}}) and asked to try again later',
    'no-data-cipher': "the gateway and this profile have no data-channel cipher in common: import this gateway's current profile (its data-ciphers must include the gateway's cipher) from your administrator — the gateway said: {{said}}",
    'connection-limit': 'the gateway refused the connection: {{said}}; disconnect another device or ask your administrator to raise the limit',
    'session-ended': 'the gateway ended your login session ({{why}}); connect again and log in',
    'auth-rejected': 'the gateway rejected the username or password; check them and connect again',
    'auth-rejected-said': 'the gateway rejected the username or password ({{said}}); check them and connect again',
    'pushed-compression': "the gateway pushes compression (compress or comp-lzo), which this profile does not allow: import this gateway's current profile (with its compress or comp-lzo line) from your administrator, or ask them to turn compression off",
    'cipher-not-allowed': "the gateway uses the data-channel cipher {{cipher}}, which this profile does not allow (its data-ciphers: {{allowed}}): import this gateway's current profile (its data-ciphers must include {{cipher}}) from your administrator, or ask them to offer one of {{allowed}}",
    'no-cipher-fallback': 'the gateway does not negotiate a data-channel cipher (an OpenVPN older than 2.4?) and this profile names no "data-ciphers-fallback": import this gateway\'s current profile from your administrator, or ask them which cipher the gateway uses',
    'pushed-option-refused': 'the gateway pushes "{{option}}", which this profile\'s "pull-filter reject" refuses: import this gateway\'s current profile from your administrator, or ask them to stop pushing it',
    'dco-incompatible': "the gateway pushes options that openvpn's data channel offload (DCO) cannot use: tell your administrator",
    'crypto-options': 'openvpn cannot set up the data-channel encryption the gateway asks for (see the log for the option): tell your administrator',
    'push-options': 'openvpn cannot apply the options the gateway pushes (see the log for the option at fault): tell your administrator',
    'no-push-reply': 'the gateway completed the TLS handshake but never sent its settings (no reply to PUSH_REQUEST): it may not be set up for clients of this kind; ask your administrator',
    'tls-crypt-mismatch': "packets from the gateway fail this profile's tls-crypt check: the gateway uses another tls-crypt key (or none); import this gateway's current profile (with its tls-crypt key) from your administrator",
    'tls-auth-mismatch': "packets from the gateway fail this profile's tls-auth check: the gateway uses another tls-auth key or key direction (or none); import this gateway's current profile (with its tls-auth key) from your administrator",
    'ca-unreadable': "openvpn cannot read this profile's CA certificate: import the CA certificate your administrator sent again",
    'cert-unreadable': 'openvpn cannot read your client certificate: import the certificate your administrator sent again',
    'key-mismatch': 'your private key does not belong to your client certificate: import the key that was issued with it',
    'cert-expired-local': 'your client certificate expired on {{date}}; ask your administrator for a new one and import it',
    'cert-unreadable-local': 'Ferry cannot read your client certificate ({{error}}): import the certificate your administrator sent again',
    'cannot-resolve': "cannot resolve the gateway's name {{host}}: check the gateway address and your network connection",
    unreachable: 'the gateway cannot be reached ({{error}}): check the gateway address, that the gateway is running, and your network connection',
    'unreachable-at': 'the gateway {{address}} cannot be reached ({{error}}): check the gateway address, that the gateway is running, and your network connection',
    'no-answer': "no answer from the gateway: check the gateway address, port and protocol, that the gateway is running, and that no firewall blocks it; if the gateway uses a tls-crypt or tls-auth key, this profile does not have it: import this gateway's current profile (with its key) from your administrator",
    'no-answer-with-key': "no answer from the gateway: check the gateway address, port and protocol, that the gateway is running, and that no firewall blocks it; a gateway also stays silent when this profile's tls-crypt or tls-auth key is not its own",
    'closed-before-answer': "the gateway accepted the TCP connection but closed it before answering: it expects a tls-crypt or tls-auth key, which this profile does not have: import this gateway's current profile (with its key) from your administrator",
    'closed-before-answer-with-key': "the gateway accepted the TCP connection but closed it before answering: it does not accept this profile's tls-crypt or tls-auth key (a different key?): import this gateway's current profile (with its key) from your administrator",
    'tls-incomplete': "the gateway answered, but the TLS handshake with it did not complete (see the log for openvpn's reason): check that the profile is the one for this gateway, or ask your administrator",
    'not-set-up-in-time': 'the gateway answered, but the connection was not set up in time (see the log for what openvpn was waiting for)',
    'no-tun-device': 'openvpn cannot create the tunnel device ({{said}}): Ferry needs root or its privileged helper to connect',
    'openvpn-stopped': 'openvpn stopped: {{said}}',
    'openvpn-missing': 'openvpn not found: install OpenVPN 2.6 (Debian/Ubuntu: apt install openvpn; macOS: reinstall the Ferry package, which carries the openvpn its helper runs) or set FERRY_OPENVPN to its path',
    'engine-exited': 'openvpn stopped unexpectedly (exit code {{exitCode}})',
    'engine-killed': 'openvpn stopped unexpectedly (killed by {{signal}})',
    'engine-restart-failed': 'openvpn stopped unexpectedly and could not be restarted: {{error}}',
    'cannot-start': 'cannot start openvpn: {{error}}',
    'other-password': 'openvpn asks for a "{{tag}}" password, which Ferry does not support',
    'helper-not-running': 'ferry-helper is not running ({{socket}}): an ordinary user connects through it. Install and start it (sudo systemctl enable --now ferry-helper.socket), or run Ferry as root',
    'helper-permission': 'cannot reach ferry-helper at {{socket}} (permission denied): its directory must be open to everyone (chmod 755), as /run/ferry is',
    'helper-error': 'ferry-helper: {{error}}',
    'helper-no-answer': 'ferry-helper closed the connection without answering',
    'helper-unexpected': 'ferry-helper answered something unexpected',
    'helper-refused': 'ferry-helper refused: {{error}}',
    'openvpn-not-installed': 'OpenVPN 2.6 is not installed on this computer (no HKLM\\SOFTWARE\\OpenVPN): reinstall Ferry, whose installer adds OpenVPN’s service and drivers, or install OpenVPN 2.6 from openvpn.net',
    'service-not-running': 'OpenVPN’s interactive service is not running ({{pipe}}): Ferry starts OpenVPN through it. Install OpenVPN 2.6 with its interactive service, or start the service “OpenVPNServiceInteractive” (services.msc, or “sc start OpenVPNServiceInteractive” as an administrator)',
    'service-permission': 'cannot open OpenVPN’s interactive service at {{pipe}} (access denied): reinstall OpenVPN 2.6 so that its service pipe admits signed-in users',
    'service-not-authorized': 'OpenVPN’s interactive service starts Ferry’s tunnels only for members of the “{{group}}” group (or Administrators): ask an administrator to add your account to “{{group}}”, then sign out and in again. The service said: {{error}}',
    'service-refused': 'OpenVPN’s interactive service could not start openvpn (error {{code}}): {{error}}',
    'service-no-answer': 'OpenVPN’s interactive service closed the connection without answering',
    'service-timeout': 'OpenVPN’s interactive service ({{pipe}}) did not answer within {{seconds}} s: restart the service “OpenVPNServiceInteractive” (services.msc), and if that does not help, another program may hold its pipe: restart Windows',
    'service-unexpected': 'OpenVPN’s interactive service answered something unexpected',
    'pool-overlap': 'the VPN gave this device the address {{address}}, which lies inside your local network {{network}} ({{interface}}); traffic would go astray, so Ferry disconnected. Ask your administrator to move the client address pool, or connect from another network',
    'password-missing': 'a password is needed to connect "{{profile}}" and none was given',
    'challenge-unanswered': 'the gateway asked "{{text}}" and no answer was given',
    'key-passphrase-wrong': 'the private key passphrase was wrong',
    'key-passphrase-missing': 'the private key is passphrase-protected and no passphrase was given',
  },
  network: {
    refused: 'connection refused',
    'no-route': 'no route to host',
    'network-unreachable': 'network is unreachable',
    'timed-out': 'connection timed out',
    'host-unreachable': 'host is unreachable',
  },
  frame: {
    openvpnSaid: '{{text}} — openvpn: "{{openvpn}}"',
    repeated: '{{text}} (the same on {{count}} attempts in a row)',
    gaveUpConnecting: 'could not connect within {{seconds}} s: {{text}}',
    gaveUpReconnecting: 'lost the connection and could not reconnect within {{seconds}} s: {{text}}',
  },
  message: {
    'engine-restarting-exited': 'openvpn stopped unexpectedly (exit code {{exitCode}}); restarting it',
    'engine-restarting-killed': 'openvpn stopped unexpectedly (killed by {{signal}}); restarting it',
    'route-errors': 'connected, but openvpn reported errors while setting up routes; see the log',
    'gateway-asks': 'the gateway asks: {{text}}',
    'password-saved': 'password saved in the OS keychain',
    'keychain-unavailable': 'no OS keychain is reachable ({{error}}); Ferry will ask for secrets each time instead of saving them',
    'keychain-failed': 'the OS keychain failed: {{error}}',
    'remove-while-running': '"{{profile}}" is {{state}}; disconnect it first',
    'remove-while-running-other': '"{{profile}}" is {{state}} in another Ferry process (pid {{pid}}); disconnect it first',
    'remove-while-running-helper': '"{{profile}}" is {{state}} in ferry-helper; disconnect it first',
    'running-in-other-process': '"{{profile}}" is already {{state}} in another Ferry process (pid {{pid}})',
    'already-starting': 'a session for this profile is already starting here',
    'helper-kept-disconnect': 'this tunnel runs in ferry-helper with no Ferry attached: connect takes it over (nothing is asked), then disconnect it',
    'auto-connect-failed': 'auto-connect failed: {{cause}}',
    'otp-secret-needed': 'a {{kind}} token needs its secret: type the base32 text your administrator gave you',
    'otp-kind-needed': 'choose the token type (TOTP or HOTP) for this OTP secret',
    'profile-name-taken': 'a profile named "{{name}}" already exists',
    'export-logs-unavailable': 'exporting the log is not available here; copy it from the log view instead',
  },
  state: {
    DISCONNECTED: 'disconnected',
    CONNECTING: 'connecting',
    AUTH: 'logging in',
    CONNECTED: 'connected',
    RECONNECTING: 'reconnecting',
    FAILED: 'failed',
  },
};

export const ZH_CN: FailureCatalogue = {
  heading: {
    title: '连接失败',
    unreachable: '无法访问网关',
    tls: '无法建立安全连接',
    'cert-expired': '您的证书已过期',
    'cert-revoked': '您的证书已被吊销',
    auth: '用户名或密码错误',
    'connection-limit': '此账号的连接数已达上限',
    'pool-overlap': 'VPN 地址与本地网络冲突',
    'openvpn-missing': '未安装 OpenVPN',
    'helper-missing': 'ferry-helper 服务没有运行',
    'service-missing': 'OpenVPN 交互式服务无法建立隧道',
    'engine-died': 'VPN 引擎意外停止',
    'reconnect-timeout': '未能及时重连',
    config: '此配置无法直接使用',
    'credentials-unavailable': '没有输入密码',
  },
  detail: {
    'server-name-mismatch': '服务器证书属于“{{actual}}”，而不是配置所要求的“{{expected}}”：您可能连到了错误的服务器；请检查网关地址，或联系管理员',
    'server-cert-expired': '服务器证书已过期；请告知管理员',
    'server-cert-not-yet-valid': '服务器证书尚未生效：请检查本机的日期和时间是否正确，或告知管理员',
    'server-cert-wrong-ca': '服务器证书不是由此配置的 CA 证书签发的（CA 文件不对，或不是贵单位的服务器）；请导入管理员发给您的 CA 证书',
    'server-cert-no-key-usage': `网关证书没有密钥用法扩展，而此配置的“remote-cert-tls server”检查需要它：${SERVER_CERT_ADVICE_ZH}`,
    'server-cert-no-eku': `网关证书没有扩展密钥用法扩展，而此配置的“remote-cert-tls server”检查需要它：${SERVER_CERT_ADVICE_ZH}`,
    'server-cert-key-usage': `网关证书的密钥用法为 {{usage}}，此配置的“remote-cert-ku”检查不接受：${SERVER_CERT_ADVICE_ZH}`,
    'server-cert-not-tls-server': `网关证书不是 TLS 服务器证书（其扩展密钥用法缺少“remote-cert-tls server”所需的“TLS Web Server Authentication”）：请检查网关地址，或${SERVER_CERT_ADVICE_ZH}`,
    'server-cert-not-server-ku': `网关证书不具备服务器证书的密钥用法，而“remote-cert-tls server”需要它：${SERVER_CERT_ADVICE_ZH}`,
    'server-cert-ns-type': `网关证书没有标记为 {{type}} 证书（Netscape 证书类型），而此配置的“ns-cert-type server”检查需要它：${SERVER_CERT_ADVICE_ZH}`,
    'cert-revoked': '网关拒绝了您的证书，因为它已被吊销；请向管理员申请新账号',
    'cert-expired-gateway': '网关拒绝了您的证书，因为它已过期；请向管理员申请新证书',
    'cert-unknown-ca': '网关不接受您的证书（它不是由网关的 CA 签发的）；请导入管理员为此网关发给您的文件',
    'certificate-not-accepted': '网关在 TLS 握手期间关闭了连接：它不接受您的证书（已吊销、已过期或由其他 CA 签发）；请向管理员申请有效的证书',
    'no-tls-version': '网关与此配置没有共同支持的 TLS 版本：请对照网关检查配置中的“tls-version-min”，或联系管理员',
    'no-tls-cipher': '网关拒绝了 TLS 握手，通常是因为没有共同的 TLS 密码套件：请对照网关检查配置中的“tls-cipher”和“tls-version-min”，或联系管理员',
    'temp-refusal': '网关暂时拒绝了连接，并要求稍后重试',
    'temp-refusal-why': '网关暂时拒绝了连接（{{why}}），并要求稍后重试',
    'no-data-cipher': '网关与此配置没有共同的数据通道加密算法：请向管理员获取此网关的最新配置（其 data-ciphers 必须包含网关的算法）——网关的说明：{{said}}',
    'connection-limit': '网关拒绝了连接：{{said}}；请断开另一台设备，或请管理员提高连接数上限',
    'session-ended': '网关结束了您的登录会话（{{why}}）；请重新连接并登录',
    'auth-rejected': '网关拒绝了用户名或密码；请检查后重新连接',
    'auth-rejected-said': '网关拒绝了用户名或密码（{{said}}）；请检查后重新连接',
    'pushed-compression': '网关推送了压缩设置（compress 或 comp-lzo），而此配置不允许压缩：请向管理员获取此网关的最新配置（含 compress 或 comp-lzo 行），或请管理员关闭压缩',
    'cipher-not-allowed': '网关使用数据通道加密算法 {{cipher}}，而此配置不允许（其 data-ciphers 为 {{allowed}}）：请向管理员获取此网关的最新配置（其 data-ciphers 必须包含 {{cipher}}），或请管理员提供 {{allowed}} 之一',
    'no-cipher-fallback': '网关不协商数据通道加密算法（OpenVPN 低于 2.4？），而此配置没有“data-ciphers-fallback”：请向管理员获取此网关的最新配置，或询问网关使用的加密算法',
    'pushed-option-refused': '网关推送了“{{option}}”，被此配置的“pull-filter reject”拒绝：请向管理员获取此网关的最新配置，或请管理员停止推送该选项',
    'dco-incompatible': '网关推送的选项无法用于 openvpn 的数据通道卸载（DCO）：请告知管理员',
    'crypto-options': 'openvpn 无法按网关的要求设置数据通道加密（具体选项见日志）：请告知管理员',
    'push-options': 'openvpn 无法应用网关推送的选项（出错的选项见日志）：请告知管理员',
    'no-push-reply': '网关完成了 TLS 握手，但始终没有发送设置（PUSH_REQUEST 无应答）：它可能没有为此类客户端配置；请联系管理员',
    'tls-crypt-mismatch': '网关发来的数据包未通过此配置的 tls-crypt 校验：网关使用了另一个 tls-crypt 密钥（或没有使用）；请向管理员获取此网关的最新配置（含其 tls-crypt 密钥）',
    'tls-auth-mismatch': '网关发来的数据包未通过此配置的 tls-auth 校验：网关使用了另一个 tls-auth 密钥或密钥方向（或没有使用）；请向管理员获取此网关的最新配置（含其 tls-auth 密钥）',
    'ca-unreadable': 'openvpn 无法读取此配置的 CA 证书：请重新导入管理员发给您的 CA 证书',
    'cert-unreadable': 'openvpn 无法读取您的客户端证书：请重新导入管理员发给您的证书',
    'key-mismatch': '您的私钥与客户端证书不匹配：请导入与证书一同签发的密钥',
    'cert-expired-local': '您的客户端证书已于 {{date}} 过期；请向管理员申请新证书并导入',
    'cert-unreadable-local': 'Ferry 无法读取您的客户端证书（{{error}}）：请重新导入管理员发给您的证书',
    'cannot-resolve': '无法解析网关名称 {{host}}：请检查网关地址和网络连接',
    unreachable: '无法访问网关（{{error}}）：请检查网关地址、网关是否在运行，以及您的网络连接',
    'unreachable-at': '无法访问网关 {{address}}（{{error}}）：请检查网关地址、网关是否在运行，以及您的网络连接',
    'no-answer': '网关没有应答：请检查网关地址、端口和协议、网关是否在运行，以及是否有防火墙拦截；如果网关使用 tls-crypt 或 tls-auth 密钥，此配置中没有该密钥：请向管理员获取此网关的最新配置（含其密钥）',
    'no-answer-with-key': '网关没有应答：请检查网关地址、端口和协议、网关是否在运行，以及是否有防火墙拦截；如果此配置的 tls-crypt 或 tls-auth 密钥与网关的不一致，网关也会保持沉默',
    'closed-before-answer': '网关接受了 TCP 连接，但在应答前就关闭了它：网关需要 tls-crypt 或 tls-auth 密钥，而此配置中没有：请向管理员获取此网关的最新配置（含其密钥）',
    'closed-before-answer-with-key': '网关接受了 TCP 连接，但在应答前就关闭了它：网关不接受此配置的 tls-crypt 或 tls-auth 密钥（密钥不同？）：请向管理员获取此网关的最新配置（含其密钥）',
    'tls-incomplete': '网关有应答，但与它的 TLS 握手没有完成（openvpn 给出的原因见日志）：请确认此配置正是该网关的配置，或联系管理员',
    'not-set-up-in-time': '网关有应答，但连接没有按时建立（openvpn 在等待什么，见日志）',
    'no-tun-device': 'openvpn 无法创建隧道设备（{{said}}）：Ferry 需要 root 权限或其特权助手才能连接',
    'openvpn-stopped': 'openvpn 已停止：{{said}}',
    'openvpn-missing': '找不到 openvpn：请安装 OpenVPN 2.6（Debian/Ubuntu：apt install openvpn；macOS：重新安装 Ferry 的安装包，其中带有助手所运行的 openvpn），或将 FERRY_OPENVPN 设为其路径',
    'engine-exited': 'openvpn 意外停止（退出码 {{exitCode}}）',
    'engine-killed': 'openvpn 意外停止（被 {{signal}} 终止）',
    'engine-restart-failed': 'openvpn 意外停止，且无法重新启动：{{error}}',
    'cannot-start': '无法启动 openvpn：{{error}}',
    'other-password': 'openvpn 要求输入“{{tag}}”密码，Ferry 不支持此类密码',
    'helper-not-running': 'ferry-helper 没有运行（{{socket}}）：普通用户需要通过它连接。请安装并启动它（sudo systemctl enable --now ferry-helper.socket），或以 root 身份运行 Ferry',
    'helper-permission': '无法访问 {{socket}} 上的 ferry-helper（权限被拒绝）：其所在目录必须对所有人开放（chmod 755），如 /run/ferry',
    'helper-error': 'ferry-helper 出错：{{error}}',
    'helper-no-answer': 'ferry-helper 没有应答就关闭了连接',
    'helper-unexpected': 'ferry-helper 的应答无法识别',
    'helper-refused': 'ferry-helper 拒绝了请求：{{error}}',
    'openvpn-not-installed': '此电脑未安装 OpenVPN 2.6（没有 HKLM\\SOFTWARE\\OpenVPN）：请重新安装 Ferry（其安装程序会装上 OpenVPN 的服务和驱动），或从 openvpn.net 安装 OpenVPN 2.6',
    'service-not-running': 'OpenVPN 交互式服务没有运行（{{pipe}}）：Ferry 通过它启动 OpenVPN。请安装带交互式服务的 OpenVPN 2.6，或启动服务“OpenVPNServiceInteractive”（services.msc，或以管理员身份运行“sc start OpenVPNServiceInteractive”）',
    'service-permission': '无法打开 {{pipe}} 上的 OpenVPN 交互式服务（访问被拒绝）：请重新安装 OpenVPN 2.6，使其服务管道允许已登录用户访问',
    'service-not-authorized': 'OpenVPN 交互式服务只为“{{group}}”组（或管理员组）的成员启动 Ferry 的隧道：请管理员把您的账户加入“{{group}}”组，然后注销并重新登录。服务的原话：{{error}}',
    'service-refused': 'OpenVPN 交互式服务无法启动 openvpn（错误 {{code}}）：{{error}}',
    'service-no-answer': 'OpenVPN 交互式服务没有应答就关闭了连接',
    'service-timeout': 'OpenVPN 交互式服务（{{pipe}}）在 {{seconds}} 秒内没有应答：请重启服务“OpenVPNServiceInteractive”（services.msc）；如果仍然不行，可能有其他程序占用了它的管道，请重启 Windows',
    'service-unexpected': 'OpenVPN 交互式服务的应答无法识别',
    'pool-overlap': 'VPN 为本设备分配的地址 {{address}} 位于您的本地网络 {{network}}（{{interface}}）之内；流量会走错路，因此 Ferry 断开了连接。请管理员更换客户端地址池，或换一个网络再连接',
    'password-missing': '连接“{{profile}}”需要密码，但没有输入',
    'challenge-unanswered': '网关询问“{{text}}”，但没有输入回答',
    'key-passphrase-wrong': '私钥口令错误',
    'key-passphrase-missing': '私钥受口令保护，但没有输入口令',
  },
  network: {
    refused: '连接被拒绝',
    'no-route': '没有到主机的路由',
    'network-unreachable': '网络不可达',
    'timed-out': '连接超时',
    'host-unreachable': '主机不可达',
  },
  frame: {
    openvpnSaid: '{{text}}——openvpn：“{{openvpn}}”',
    repeated: '{{text}}（连续 {{count}} 次尝试均如此）',
    gaveUpConnecting: '{{seconds}} 秒内未能连接：{{text}}',
    gaveUpReconnecting: '连接已断开，{{seconds}} 秒内未能重新连接：{{text}}',
  },
  message: {
    'engine-restarting-exited': 'openvpn 意外停止（退出码 {{exitCode}}），正在重新启动',
    'engine-restarting-killed': 'openvpn 意外停止（被 {{signal}} 终止），正在重新启动',
    'route-errors': '已连接，但 openvpn 在设置路由时报告了错误；请查看日志',
    'gateway-asks': '网关询问：{{text}}',
    'password-saved': '密码已保存到系统钥匙串',
    'keychain-unavailable': '无法访问系统钥匙串（{{error}}）；Ferry 将在每次连接时询问，而不保存密码',
    'keychain-failed': '系统钥匙串出错：{{error}}',
    'remove-while-running': '“{{profile}}”{{state}}；请先断开连接',
    'remove-while-running-other': '“{{profile}}”在另一个 Ferry 进程（pid {{pid}}）中{{state}}；请先断开连接',
    'remove-while-running-helper': '“{{profile}}”在 ferry-helper 中{{state}}；请先断开连接',
    'running-in-other-process': '“{{profile}}”已在另一个 Ferry 进程（pid {{pid}}）中{{state}}',
    'already-starting': '此配置的会话已在本进程中启动',
    'helper-kept-disconnect': '此隧道由 ferry-helper 运行，没有 Ferry 连接它：先连接以接管它（不会询问任何信息），再断开连接',
    'auto-connect-failed': '自动连接失败：{{cause}}',
    'otp-secret-needed': '{{kind}} 令牌需要其密钥：请输入管理员给您的 base32 文本',
    'otp-kind-needed': '请为此 OTP 密钥选择令牌类型（TOTP 或 HOTP）',
    'profile-name-taken': '名为“{{name}}”的配置已存在',
    'export-logs-unavailable': '此处无法导出日志；请在日志视图中复制',
  },
  state: {
    DISCONNECTED: '未连接',
    CONNECTING: '正在连接',
    AUTH: '正在登录',
    CONNECTED: '已连接',
    RECONNECTING: '正在重连',
    FAILED: '连接失败',
  },
};

export const CATALOGUES: Record<Language, FailureCatalogue> = { en: EN, 'zh-CN': ZH_CN };

/** Fills `{{name}}` blanks; a blank without a value stays visible rather than vanishing. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

/** The explanation of a failure, framed as the session ended on it, in one line. */
export function failureText(failure: Failure, language: Language): string {
  const words = CATALOGUES[language];
  const params = { ...failure.params };
  if (typeof params.error === 'string' && params.error in words.network) params.error = words.network[params.error as NetworkError];
  let text = fill(words.detail[failure.detail] ?? failure.detail, params);
  if (typeof params.openvpn === 'string') text = fill(words.frame.openvpnSaid, { text, openvpn: params.openvpn });
  if (failure.repeated) text = fill(words.frame.repeated, { text, count: failure.repeated });
  if (failure.gaveUp) text = fill(failure.gaveUp.wasConnected ? words.frame.gaveUpReconnecting : words.frame.gaveUpConnecting, { text, seconds: failure.gaveUp.seconds });
  return text;
}

/** A notice or refusal in one line; a message's `cause` fills its `{{cause}}` blank. */
export function messageText(message: Message, language: Language): string {
  const words = CATALOGUES[language];
  const params = { ...message.params };
  if (typeof params.state === 'string' && params.state in words.state) params.state = words.state[params.state as SessionState];
  if (message.cause) params.cause = causeText(message.cause, language);
  return fill(words.message[message.code] ?? message.code, params);
}

function causeText(cause: Cause, language: Language): string {
  if ('failure' in cause) return failureText(cause.failure, language);
  if ('message' in cause) return messageText(cause.message, language);
  return cause.text;
}

/** The heading of a failure: what kind it is. */
export function failureHeading(failure: Pick<Failure, 'code'>, language: Language): string {
  return CATALOGUES[language].heading[failure.code] ?? CATALOGUES[language].heading.title;
}

/**
 * The terminal's language, as POSIX orders it: LC_ALL, else LC_MESSAGES, else LANG (the
 * first one set and non-empty decides). Any zh_* locale reads Chinese; all else English.
 */
export function terminalLanguage(env: NodeJS.ProcessEnv = process.env): Language {
  const tag = [env.LC_ALL, env.LC_MESSAGES, env.LANG].find((v) => v !== undefined && v !== '');
  return tag && /^zh([_.@-]|$)/i.test(tag) ? 'zh-CN' : 'en';
}
