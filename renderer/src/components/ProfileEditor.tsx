/**
 * The profile editor (the seed's "新增配置（高级）" dialog): name, gateway, port, protocol,
 * username, password required, OTP token type and secret, reconnect timeout, minimize on
 * connect, auto-connect, and the certificates with their SHA-1 fingerprints.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { call, type CertificateSummary, type ProfileEdit, type ProfileView, type ResultError } from '../api';
import { resultErrorText } from '../failure';
import { navigate, notify, reloadProfiles, sessionOf, useStore } from '../store';
import { CertificateList } from './CertificateList';
import { Dialog } from './Dialog';
import { Field } from './Field';
import { isActive } from './StateBadge';

type OtpKind = 'none' | 'totp' | 'hotp';

export function ProfileEditor({ view }: { view: ProfileView }) {
  const { t } = useTranslation();
  const p = view.profile;
  const remote = p.remotes[0]!;
  const [name, setName] = useState(p.name);
  const [host, setHost] = useState(remote.host);
  const [port, setPort] = useState(String(remote.port));
  const [proto, setProto] = useState(remote.proto);
  const [username, setUsername] = useState(p.username ?? '');
  const [passwordRequired, setPasswordRequired] = useState(p.passwordRequired);
  const [otpKind, setOtpKind] = useState<OtpKind>(p.otp.kind);
  const [otpSecret, setOtpSecret] = useState('');
  const [timeout, setTimeoutSec] = useState(String(p.reconnectTimeoutSec));
  const [minimize, setMinimize] = useState(p.minimizeOnConnect);
  const [autoConnect, setAutoConnect] = useState(p.autoConnect);
  const [certificates, setCertificates] = useState<CertificateSummary[] | undefined>();
  const [error, setError] = useState<ResultError | undefined>();
  const [saving, setSaving] = useState(false);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const active = useStore((s) => isActive(sessionOf(s, p.name)?.state ?? 'DISCONNECTED'));

  useEffect(() => {
    void call('certificates', { name: p.name }).then((r) => (r.ok ? setCertificates(r.value) : setError(r.error)));
  }, [p.name]);

  const portNumber = Number(port);
  const portError = !/^\d+$/.test(port) || portNumber < 1 || portNumber > 65535 ? '1–65535' : undefined;
  const timeoutNumber = Number(timeout);
  const timeoutError = !/^\d+$/.test(timeout) || timeoutNumber < 5 || timeoutNumber > 86_400 ? t('editor.reconnectHint') : undefined;

  async function save() {
    if (portError || timeoutError) return;
    setSaving(true);
    setError(undefined);
    const edit: ProfileEdit = {
      name: name.trim(),
      gateway: `${host.includes(':') ? `[${host.trim()}]` : host.trim()}:${portNumber}`,
      proto,
      username: username.trim(),
      passwordRequired,
      otpKind,
      ...(otpSecret.trim() ? { otpSecret: otpSecret.replace(/\s+/g, '') } : {}),
      reconnectTimeoutSec: timeoutNumber,
      minimizeOnConnect: minimize,
      autoConnect,
    };
    const result = await call('updateProfile', { name: p.name, edit });
    setSaving(false);
    if (!result.ok) return setError(result.error);
    setOtpSecret('');
    // A running tunnel keeps the settings it started with (the core says so): say when that is the case.
    notify('info', { keys: [{ key: 'editor.saved' }, ...(result.value.appliesAtNextConnect ? [{ key: 'editor.editWhileConnected' }] : [])] });
    await reloadProfiles();
    if (result.value.profile.name !== p.name) navigate({ kind: 'profile', name: result.value.profile.name, tab: 'edit' });
  }

  async function remove() {
    setConfirmRemove(false);
    const result = await call('removeProfile', { name: p.name });
    if (!result.ok) return notify('error', { error: result.error });
    await reloadProfiles();
  }

  return (
    <div className="editor">
      <form
        className="editor-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        {active ? <p className="banner banner-info">{t('editor.editWhileConnected')}</p> : null}
        <fieldset className="card form-card">
          <legend>{t('editor.general')}</legend>
          <div className="form-grid">
            <Field id="edit-name" label={t('editor.name')} required>
              {(aria) => <input {...aria} value={name} maxLength={64} onChange={(e) => setName(e.target.value)} />}
            </Field>
            <Field id="edit-username" label={t('editor.username')}>
              {(aria) => <input {...aria} value={username} autoComplete="off" spellCheck={false} onChange={(e) => setUsername(e.target.value)} />}
            </Field>
          </div>
          <div className="form-grid gateway-grid">
            <Field id="edit-host" label={t('editor.gateway')} required>
              {(aria) => <input {...aria} value={host} autoComplete="off" spellCheck={false} onChange={(e) => setHost(e.target.value)} />}
            </Field>
            <Field id="edit-port" label={t('editor.port')} error={portError}>
              {(aria) => <input {...aria} value={port} inputMode="numeric" onChange={(e) => setPort(e.target.value)} />}
            </Field>
            <Field id="edit-proto" label={t('editor.protocol')}>
              {(aria) => (
                <select {...aria} value={proto} onChange={(e) => setProto(e.target.value as 'tcp' | 'udp')}>
                  <option value="tcp">TCP</option>
                  <option value="udp">UDP</option>
                </select>
              )}
            </Field>
          </div>
        </fieldset>

        <fieldset className="card form-card">
          <legend>{t('editor.security')}</legend>
          <label className="checkbox">
            <input type="checkbox" checked={passwordRequired} onChange={(e) => setPasswordRequired(e.target.checked)} />
            {t('editor.passwordRequired')}
          </label>
          <div className="form-grid">
            <Field id="edit-otp-kind" label={t('editor.otpKind')}>
              {(aria) => (
                <select {...aria} value={otpKind} onChange={(e) => setOtpKind(e.target.value as OtpKind)}>
                  <option value="none">{t('editor.otpNone')}</option>
                  <option value="totp">{t('editor.otpTotp')}</option>
                  <option value="hotp">{t('editor.otpHotp')}</option>
                </select>
              )}
            </Field>
            {otpKind !== 'none' ? (
              <Field id="edit-otp-secret" label={t('editor.otpSecret')} hint={t('editor.otpSecretHint')}>
                {(aria) => <input {...aria} type="password" value={otpSecret} autoComplete="off" placeholder={view.savedOtpSecret ? t('editor.otpSecretSaved') : ''} onChange={(e) => setOtpSecret(e.target.value)} />}
              </Field>
            ) : null}
          </div>
        </fieldset>

        <fieldset className="card form-card">
          <legend>{t('editor.behaviour')}</legend>
          <div className="form-grid">
            <Field id="edit-timeout" label={t('editor.reconnectTimeout')} hint={timeoutError ? undefined : t('editor.reconnectHint')} error={timeoutError}>
              {(aria) => (
                <div className="input-suffix">
                  <input {...aria} value={timeout} inputMode="numeric" onChange={(e) => setTimeoutSec(e.target.value)} />
                  <span aria-hidden="true">{t('editor.seconds')}</span>
                </div>
              )}
            </Field>
          </div>
          <label className="checkbox">
            <input type="checkbox" checked={minimize} onChange={(e) => setMinimize(e.target.checked)} />
            {t('editor.minimizeOnConnect')}
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={autoConnect} onChange={(e) => setAutoConnect(e.target.checked)} />
            {t('editor.autoConnect')}
          </label>
        </fieldset>

        {error ? (
          <p className="banner banner-error form-error" role="alert">
            {resultErrorText(t, error)}
          </p>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button button-danger-quiet" onClick={() => setConfirmRemove(true)} disabled={active} title={active ? t('editor.removeDisconnectFirst') : undefined}>
            {t('editor.danger')}
          </button>
          <div className="toolbar-spacer" />
          <button type="submit" className="button button-primary" disabled={saving || Boolean(portError || timeoutError)}>
            {t(saving ? 'actions.saving' : 'actions.save')}
          </button>
        </div>
      </form>

      <section className="editor-certs" aria-labelledby="certs-heading">
        <h2 id="certs-heading">{t('editor.certificates')}</h2>
        {certificates ? <CertificateList certificates={certificates} /> : null}
      </section>

      {confirmRemove ? (
        <Dialog
          title={t('editor.removeConfirm', { name: p.name })}
          description={t('editor.removeBody', { name: p.name })}
          tone="danger"
          onCancel={() => setConfirmRemove(false)}
          onSubmit={() => void remove()}
          footer={
            <>
              <button type="button" className="button button-secondary" onClick={() => setConfirmRemove(false)}>
                {t('actions.cancel')}
              </button>
              <button type="submit" className="button button-danger">
                {t('actions.remove')}
              </button>
            </>
          }
        >
          {null}
        </Dialog>
      ) : null}
    </div>
  );
}
