/**
 * Import: the three files (or one .ovpn / bundle .zip) plus the seed's fields. Whenever
 * the input is complete it is checked with `previewImport` — subject, expiry and SHA-1 of
 * each certificate are shown before anything is saved — and `saveImport` sends exactly
 * what was previewed. Each error appears next to the file it names.
 */
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { call, type ImportFile, type ImportPreview, type ImportRequest } from '../api';
import { assignSlots, isSingleProfileFile, MAX_FILE_BYTES, readImportFile, type Slot } from '../files';
import { key } from '../failure';
import { formatGateway } from '../format';
import { navigate, notify, reloadProfiles, takePendingImport, useStore } from '../store';
import { CertificateList } from './CertificateList';
import { Field } from './Field';
import { FileSlot } from './FileSlot';
import { CheckIcon, UploadIcon } from './Icons';

type Proto = '' | 'tcp' | 'udp';
type Check = { status: 'idle' } | { status: 'checking'; version: number } | { status: 'ok'; version: number; preview: ImportPreview } | { status: 'error'; version: number; message: string; file?: string | undefined };

const SLOTS: Slot[] = ['ca', 'cert', 'key'];
const PEM_ACCEPT = '.crt,.pem,.cer,.key,application/x-pem-file,application/x-x509-ca-cert';

export function ImportView() {
  const { t } = useTranslation();
  const [slots, setSlots] = useState<Partial<Record<Slot, File>>>({});
  const [single, setSingle] = useState<File | undefined>();
  const [name, setName] = useState('');
  const [gateway, setGateway] = useState('');
  const [proto, setProto] = useState<Proto>('tcp');
  const [username, setUsername] = useState('');
  const [passwordRequired, setPasswordRequired] = useState(true);
  const [passphrase, setPassphrase] = useState('');
  const [needsPassphrase, setNeedsPassphrase] = useState(false);
  const [check, setCheck] = useState<Check>({ status: 'idle' });
  const [saving, setSaving] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [readErrors, setReadErrors] = useState<Record<string, string>>({});
  const version = useRef(0);
  const dropInput = useRef<HTMLInputElement>(null);
  const pending = useStore((s) => s.pendingImport);

  const files: File[] = single ? [single] : SLOTS.flatMap((s) => (slots[s] ? [slots[s]] : []));
  const complete = single !== undefined || files.length === 3;
  const gatewayMissing = !single && complete && gateway.trim() === '';

  // Files opened with Ferry arrive as an event: treat them as dropped.
  useEffect(() => {
    const opened = takePendingImport();
    if (opened) void addFiles(opened.map(toFile));
  }, [pending]);

  // Any change invalidates the last check; a complete input is checked after a short pause.
  useEffect(() => {
    const v = ++version.current;
    if (!complete || gatewayMissing) {
      setCheck({ status: 'idle' });
      return;
    }
    setCheck({ status: 'checking', version: v });
    const timer = setTimeout(() => void runPreview(v), 300);
    return () => clearTimeout(timer);
  }, [slots.ca, slots.cert, slots.key, single, name, gateway, proto, username, passwordRequired, passphrase]);

  async function buildRequest(): Promise<ImportRequest | { error: string; file: string }> {
    const read: ImportFile[] = [];
    for (const file of files) {
      if (file.size > MAX_FILE_BYTES) return { error: t('import.tooBig', { file: file.name }), file: file.name };
      try {
        read.push(await readImportFile(file));
      } catch (err) {
        return { error: t('import.unreadable', { file: file.name, message: (err as Error).message }), file: file.name };
      }
    }
    const settings: ImportRequest['settings'] = {
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(gateway.trim() ? { gateway: gateway.trim() } : {}),
      ...(proto ? { proto } : {}),
      ...(username.trim() ? { username: username.trim() } : {}),
      ...(!single && !passwordRequired ? { noPassword: true } : {}),
      ...(passphrase ? { passphrase } : {}),
    };
    return { files: read, settings };
  }

  async function runPreview(v: number) {
    const request = await buildRequest();
    if (v !== version.current) return;
    if ('error' in request) return setCheck({ status: 'error', version: v, message: request.error, file: request.file });
    const result = await call('previewImport', request);
    if (v !== version.current) return; // the input changed meanwhile: a newer check is on its way
    if (result.ok) {
      setCheck({ status: 'ok', version: v, preview: result.value });
    } else {
      if (/passphrase|encrypted/i.test(result.error.message)) setNeedsPassphrase(true);
      setCheck({ status: 'error', version: v, message: result.error.message, file: result.error.file });
    }
  }

  async function save() {
    if (check.status !== 'ok' || check.version !== version.current) return;
    setSaving(true);
    try {
      const request = await buildRequest();
      if ('error' in request) return setCheck({ status: 'error', version: version.current, message: request.error, file: request.file });
      const result = await call('saveImport', request);
      if (!result.ok) return setCheck({ status: 'error', version: version.current, message: result.error.message, file: result.error.file });
      notify('info', key('import.saved', { name: result.value.profile.name }));
      await reloadProfiles();
      navigate({ kind: 'profile', name: result.value.profile.name, tab: 'status' });
    } finally {
      setSaving(false);
    }
  }

  async function addFiles(list: File[]) {
    if (list.length === 0) return;
    setReadErrors({});
    const one = list.find((f) => isSingleProfileFile(f.name));
    if (one && list.length === 1) {
      setSingle(one);
      setSlots({});
      setProto('');
      return;
    }
    setSingle(undefined);
    if (proto === '') setProto('tcp');
    const assigned = await assignSlots(list.filter((f) => !isSingleProfileFile(f.name)));
    setSlots((current) => ({ ...current, ...assigned }));
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    void addFiles([...event.dataTransfer.files]);
  }

  // Where each error goes: the slot holding the file it names, else the form's top.
  const error = check.status === 'error' ? check : undefined;
  const slotOf = (file: string | undefined) => (file === undefined ? undefined : single?.name === file ? 'single' : SLOTS.find((s) => slots[s]?.name === file));
  const errorSlot = slotOf(error?.file);
  const errorFor = (slot: Slot | 'single') => (error && errorSlot === slot ? error.message : readErrors[slot]);
  const generalError = error && errorSlot === undefined ? error.message : undefined;
  const preview = check.status === 'ok' ? check.preview : undefined;

  return (
    <section className="pane" aria-labelledby="import-title">
      <header className="pane-header">
        <div className="pane-heading">
          <h1 id="import-title">{t('import.title')}</h1>
          <p className="pane-intro">{t('import.intro')}</p>
        </div>
      </header>
      <div className="pane-body import-body">
        <form
          id="import-form"
          className="import-form"
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <div
            className={`drop-zone${dragging ? ' is-dragging' : ''}`}
            role="group"
            aria-label={t('import.dropLabel')}
            data-testid="drop-zone"
            onDragOver={(event) => {
              event.preventDefault();
              event.dataTransfer.dropEffect = 'copy';
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
          >
            <UploadIcon width={26} height={26} />
            <div className="drop-text">
              <strong>{t(dragging ? 'import.dropActive' : 'import.dropTitle')}</strong>
              <span className="muted">{t('import.dropBody')}</span>
            </div>
            <button type="button" className="button button-secondary" onClick={() => dropInput.current?.click()}>
              {t('import.chooseFiles')}
            </button>
            <input
              ref={dropInput}
              type="file"
              multiple
              hidden
              tabIndex={-1}
              aria-hidden="true"
              accept=".ovpn,.conf,.zip,.p12,.pfx,.crt,.pem,.cer,.key"
              onChange={(event) => {
                void addFiles([...(event.target.files ?? [])]);
                event.target.value = '';
              }}
            />
          </div>

          <fieldset className="card form-card">
            <legend>{t('import.files')}</legend>
            {single ? (
              <>
                <FileSlot id="file-single" label={t('import.profileFile')} file={single} error={errorFor('single')} accept=".ovpn,.conf,.zip,.p12,.pfx" icon="profile" onPick={(f) => setSingle(f)} />
                <button type="button" className="link-button" onClick={() => setSingle(undefined)}>
                  {t('import.useSeparate')}
                </button>
              </>
            ) : (
              SLOTS.map((slot) => (
                <FileSlot key={slot} id={`file-${slot}`} label={t(`import.${slot}`)} file={slots[slot]} error={errorFor(slot)} accept={PEM_ACCEPT} icon={slot} onPick={(f) => setSlots((s) => ({ ...s, [slot]: f }))} />
              ))
            )}
          </fieldset>

          <fieldset className="card form-card">
            <legend>{t('import.details')}</legend>
            <div className="form-grid">
              <Field id="import-name" label={t('import.name')}>
                {(aria) => (
                  <input {...aria} value={name} placeholder={preview?.name ?? t('import.namePlaceholder')} maxLength={64} onChange={(e) => setName(e.target.value)} />
                )}
              </Field>
              <Field id="import-gateway" label={t('import.gateway')} hint={single ? t('import.gatewayFromProfile') : t('import.gatewayHint')} error={gatewayMissing ? t('import.gatewayNeeded') : undefined} required={!single}>
                {(aria) => (
                  <input {...aria} value={gateway} placeholder={preview ? preview.gateway : 'vpn.example.com:1194'} inputMode="url" autoComplete="off" spellCheck={false} onChange={(e) => setGateway(e.target.value)} />
                )}
              </Field>
              <Field id="import-proto" label={t('import.protocol')}>
                {(aria) => (
                  <select {...aria} value={proto} onChange={(e) => setProto(e.target.value as Proto)}>
                  {single ? <option value="">{t('import.protoFromProfile')}</option> : null}
                  <option value="tcp">TCP</option>
                  <option value="udp">UDP</option>
                </select>
                )}
              </Field>
              <Field id="import-username" label={t('import.username')}>
                {(aria) => (
                  <input {...aria} value={username} placeholder={preview?.username || t('import.usernamePlaceholder')} autoComplete="off" spellCheck={false} onChange={(e) => setUsername(e.target.value)} />
                )}
              </Field>
              {needsPassphrase ? (
                <Field id="import-passphrase" label={t('import.passphrase')} hint={t('import.passphraseHint')}>
                  {(aria) => (
                    <input {...aria} type="password" value={passphrase} autoComplete="off" onChange={(e) => setPassphrase(e.target.value)} />
                  )}
                </Field>
              ) : null}
            </div>
            {!single ? (
              <label className="checkbox">
                <input type="checkbox" checked={passwordRequired} onChange={(e) => setPasswordRequired(e.target.checked)} />
                {t('import.passwordRequired')}
              </label>
            ) : null}
          </fieldset>

          {generalError ? (
            <p className="banner banner-error form-error" role="alert" data-testid="import-error">
              {generalError}
            </p>
          ) : null}

        </form>

        <aside className="preview" aria-labelledby="preview-title" aria-live="polite">
          <h2 id="preview-title">{t('import.previewTitle')}</h2>
          {preview ? (
            <div data-testid="import-preview">
              <dl className="summary">
                <dt>{t('import.name')}</dt>
                <dd>{preview.name}</dd>
                <dt>{t('import.gateway')}</dt>
                <dd className="mono">{formatGatewayText(preview.gateway, preview.proto)}</dd>
                <dt>{t('import.username')}</dt>
                <dd>{preview.username || t('status.none')}</dd>
              </dl>
              {preview.warnings.length > 0 ? (
                <div className="banner banner-warn warnings">
                  <div className="banner-text">
                    <strong>{t('import.warnings')}</strong>
                    <ul>
                      {preview.warnings.map((w) => (
                        <li key={w}>{w}</li>
                      ))}
                    </ul>
                  </div>
                </div>
              ) : null}
              <CertificateList certificates={preview.certificates} />
            </div>
          ) : (
            <p className="muted preview-empty" role="status">
              {check.status === 'checking' ? t('import.checking') : check.status === 'error' ? t('import.fixErrors') : gatewayMissing ? t('import.gatewayNeeded') : t('import.needFiles')}
            </p>
          )}
          {/* Save sits under what it saves; it submits the form on the left (form attribute). */}
          <button type="submit" form="import-form" className="button button-primary button-large preview-save" disabled={check.status !== 'ok' || saving}>
            <CheckIcon />
            {t(saving ? 'actions.saving' : 'import.save')}
          </button>
        </aside>
      </div>
    </section>
  );
}

function formatGatewayText(gateway: string, proto: string): string {
  const m = /^(.*):(\d+)$/.exec(gateway);
  return m ? formatGateway({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), proto }) : `${gateway} · ${proto.toUpperCase()}`;
}

function toFile(file: ImportFile): File {
  const binary = atob(file.base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new File([bytes], file.name);
}
