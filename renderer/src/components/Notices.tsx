/** Toasts for notices, saved/copied confirmations and errors that belong to no field. */
import { useTranslation } from 'react-i18next';
import { wordsText } from '../failure';
import { dismissNotice, useStore } from '../store';
import { CloseIcon } from './Icons';

export function Notices() {
  const { t } = useTranslation();
  const notices = useStore((s) => s.notices);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`toast toast-${n.kind}`}>
          <span>{n.profile !== undefined ? `${n.profile}: ` : ''}{wordsText(t, n.words)}</span>
          <button type="button" className="icon-button" aria-label={t('actions.dismiss')} onClick={() => dismissNotice(n.id)}>
            <CloseIcon width={14} height={14} />
          </button>
        </div>
      ))}
    </div>
  );
}
