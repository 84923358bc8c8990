/**
 * Login: the core asks (a `prompt` event) and this dialog answers with `answerPrompt`.
 * One field per question — password, one-time code, challenge answer or key passphrase —
 * with "remember password" for passwords, and a clear message when the gateway refused
 * the last password. Cancel answers with no value, which ends that connection attempt.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Prompt } from '../api';
import { answerPrompt, useStore } from '../store';
import { Dialog } from './Dialog';
import { Field } from './Field';
import { AlertIcon } from './Icons';

export function PromptHost() {
  const prompt = useStore((s) => s.prompts[0]);
  return prompt ? <LoginDialog key={prompt.id} prompt={prompt} /> : null;
}

function LoginDialog({ prompt }: { prompt: Prompt }) {
  const { t } = useTranslation();
  const [value, setValue] = useState('');
  const [remember, setRemember] = useState(false);
  const [reveal, setReveal] = useState(false);
  const profile = useStore((s) => s.profiles.find((p) => p.profile.name === prompt.profile));
  const isPassword = prompt.kind === 'password';
  const username = isPassword ? prompt.text : (profile?.profile.username ?? '');

  const label = isPassword ? t('login.password') : prompt.kind === 'otp' ? t('login.otp') : prompt.kind === 'challenge' ? t('login.challenge') : t('login.passphrase');
  const hint = prompt.kind === 'otp' || prompt.kind === 'challenge' ? prompt.text || undefined : undefined;
  const secret = (isPassword || prompt.kind === 'key-passphrase' || !prompt.echo) && !reveal;

  const submit = () => {
    if (value === '') return;
    void answerPrompt(prompt.id, value, isPassword ? remember : undefined);
  };

  return (
    <Dialog
      title={t('login.title', { profile: prompt.profile })}
      description={prompt.kind === 'key-passphrase' ? t('login.passphraseBody', { profile: prompt.profile }) : undefined}
      onCancel={() => void answerPrompt(prompt.id, undefined)}
      onSubmit={submit}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={() => void answerPrompt(prompt.id, undefined)}>
            {t('actions.cancel')}
          </button>
          <button type="submit" className="button button-primary" disabled={value === ''}>
            {t('login.submit')}
          </button>
        </>
      }
    >
      {prompt.rejected !== undefined ? (
        <div className="banner banner-error compact" role="alert" id="login-rejected" data-testid="login-rejected">
          <AlertIcon className="banner-icon" />
          <div className="banner-text">
            <strong>{t('login.rejected')}</strong>
            {prompt.rejected && !/^AUTH_FAILED$/i.test(prompt.rejected) ? <span>{t('login.rejectedDetail', { reason: prompt.rejected })}</span> : null}
          </div>
        </div>
      ) : prompt.expired ? (
        <p className="banner banner-info compact" role="status" data-testid="login-expired">
          {t('login.expired')}
        </p>
      ) : null}
      {username && (isPassword || prompt.kind === 'otp') ? (
        <div className="login-user">
          <span className="muted">{t('login.username')}</span>
          <strong data-testid="login-username">{username}</strong>
        </div>
      ) : null}
      <Field id="login-value" label={label} hint={hint}>
        {(aria) => (
          <div className="input-with-button">
            <input
              {...aria}
              aria-describedby={[aria['aria-describedby'], prompt.rejected !== undefined ? 'login-rejected' : ''].filter(Boolean).join(' ') || undefined}
              aria-invalid={prompt.rejected !== undefined ? true : undefined}
              type={secret ? 'password' : 'text'}
              value={value}
              autoComplete={prompt.kind === 'otp' ? 'one-time-code' : 'off'}
              inputMode={prompt.kind === 'otp' ? 'numeric' : undefined}
              spellCheck={false}
              onChange={(e) => setValue(e.target.value)}
            />
            {isPassword || prompt.kind === 'key-passphrase' ? (
              <button type="button" className="input-button" aria-pressed={reveal} onClick={() => setReveal((r) => !r)}>
                {t('login.show')}
              </button>
            ) : null}
          </div>
        )}
      </Field>
      {isPassword ? (
        <label className="checkbox" title={t('login.rememberHint')}>
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
          {t('login.remember')}
        </label>
      ) : null}
    </Dialog>
  );
}
