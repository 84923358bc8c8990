/** Certificates as the seed's client shows them (with SHA-1), plus subject, issuer and dates. */
import { useTranslation } from 'react-i18next';
import type { CertificateSummary } from '../api';
import { formatDate } from '../format';
import { FileIcon, ShieldIcon } from './Icons';

const SOON_MS = 30 * 86_400_000;

export function CertificateList({ certificates }: { certificates: CertificateSummary[] }) {
  return (
    <div className="cert-list">
      {certificates.map((c) => (
        <CertificateCard key={`${c.role}-${c.sha1}`} cert={c} />
      ))}
    </div>
  );
}

function CertificateCard({ cert }: { cert: CertificateSummary }) {
  const { t } = useTranslation();
  const validTo = Date.parse(cert.validTo);
  const expired = validTo < Date.now();
  const soon = !expired && validTo - Date.now() < SOON_MS;
  const headingId = `cert-${cert.role}-${cert.sha1.slice(0, 8).replace(/:/g, '')}`;
  return (
    <section className="cert-card" aria-labelledby={headingId} data-testid={`cert-${cert.role}`}>
      <div className="cert-head">
        {cert.role === 'ca' ? <ShieldIcon /> : <FileIcon />}
        <h3 id={headingId}>{t(`cert.${cert.role}`)}</h3>
        {expired ? <span className="pill pill-error">{t('cert.expired')}</span> : soon ? <span className="pill pill-warn">{t('cert.expiresSoon')}</span> : null}
      </div>
      <dl className="cert-fields">
        <dt>{t('cert.subject')}</dt>
        <dd data-field="subject">{cert.subject}</dd>
        <dt>{t('cert.issuer')}</dt>
        <dd>{cert.issuer}</dd>
        <dt>{t('cert.validFrom')}</dt>
        <dd data-field="valid-from">{formatDate(cert.validFrom)}</dd>
        <dt>{t('cert.validTo')}</dt>
        <dd data-field="valid-to" className={expired ? 'text-error' : undefined}>
          {formatDate(cert.validTo)}
        </dd>
        {cert.keyType ? (
          <>
            <dt>{t('cert.keyType')}</dt>
            <dd>{cert.keyType}</dd>
          </>
        ) : null}
        <dt>{t('cert.sha1')}</dt>
        <dd className="mono fingerprint" data-field="sha1">
          <Fingerprint value={cert.sha1} />
        </dd>
      </dl>
    </section>
  );
}

/** AA:BB:… with a line-break opportunity after each colon, so a narrow card wraps between bytes, never inside one. */
function Fingerprint({ value }: { value: string }) {
  const parts = value.split(':');
  return (
    <>
      {parts.map((part, i) => (
        <span key={i}>
          {part}
          {i < parts.length - 1 ? (
            <>
              :<wbr />
            </>
          ) : null}
        </span>
      ))}
    </>
  );
}
