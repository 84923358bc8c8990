/** The profile's log: what the core kept plus live lines, with Copy and Export. */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { call } from '../api';
import { key } from '../failure';
import { formatTime } from '../format';
import { idOf, loadLogs, notify, useStore } from '../store';
import { CopyIcon, DownloadIcon } from './Icons';

export function LogView({ name }: { name: string }) {
  const { t } = useTranslation();
  const entries = useStore((s) => s.logs[idOf(s, name) ?? '']);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    void loadLogs(name);
  }, [name]);

  useLayoutEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [entries, follow]);

  const text = () => (entries ?? []).map((e) => `${e.time} ${e.message}`).join('\n');

  async function copy() {
    try {
      await navigator.clipboard.writeText(text());
      notify('info', key('log.copied'));
    } catch (err) {
      notify('error', key('log.copyFailed', { message: err instanceof Error ? err.message : String(err) }));
    }
  }

  async function exportLog() {
    const result = await call('exportLogs', { name });
    if (!result.ok) return notify('error', { error: result.error });
    if (result.value.path) notify('info', key('log.exported', { path: result.value.path }));
  }

  return (
    <div className="log-view">
      <div className="toolbar">
        <label className="checkbox">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          {t('log.follow')}
        </label>
        <div className="toolbar-spacer" />
        <button type="button" className="button button-secondary" onClick={() => void copy()} disabled={!entries?.length}>
          <CopyIcon />
          {t('log.copy')}
        </button>
        <button type="button" className="button button-secondary" onClick={() => void exportLog()}>
          <DownloadIcon />
          {t('log.export')}
        </button>
      </div>
      <div ref={box} className="log-lines" role="log" aria-label={t('log.label', { name })} tabIndex={0}>
        {entries && entries.length > 0 ? (
          entries.map((e, i) => (
            <div key={i} className="log-line">
              <time dateTime={e.time}>{formatTime(e.time)}</time>
              <span>{e.message}</span>
            </div>
          ))
        ) : (
          <p className="muted log-empty">{t('log.empty')}</p>
        )}
      </div>
    </div>
  );
}
