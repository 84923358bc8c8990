/** No profiles yet: say what to do and lead to the import. */
import { useTranslation } from 'react-i18next';
import { navigate } from '../store';
import { LogoIcon, PlusIcon } from './Icons';

export function EmptyState() {
  const { t } = useTranslation();
  return (
    <section className="pane empty-state" aria-labelledby="empty-title">
      <div className="empty-card">
        <LogoIcon width={56} height={56} />
        <h1 id="empty-title">{t('profiles.empty.title')}</h1>
        <p>{t('profiles.empty.body')}</p>
        <button type="button" className="button button-primary button-large" onClick={() => navigate({ kind: 'import' })}>
          <PlusIcon />
          {t('profiles.empty.action')}
        </button>
      </div>
    </section>
  );
}
