/**
 * One labelled file picker (CA 证书 / 用户证书 / 用户密钥). The native input stays the one
 * focusable control — transparent over the styled face, so clicks, keyboard and screen
 * readers all reach it — and its error is tied to it with aria-describedby.
 */
import { useTranslation } from 'react-i18next';
import { CloseIcon, FileIcon, KeyIcon, ShieldIcon } from './Icons';

export interface FileSlotProps {
  id: string;
  label: string;
  file: File | undefined;
  error: string | undefined;
  accept: string;
  icon: 'ca' | 'cert' | 'key' | 'profile';
  onPick: (file: File | undefined) => void;
}

export function FileSlot({ id, label, file, error, accept, icon, onPick }: FileSlotProps) {
  const { t } = useTranslation();
  const statusId = `${id}-status`;
  const errorId = `${id}-error`;
  const Icon = icon === 'ca' ? ShieldIcon : icon === 'key' ? KeyIcon : FileIcon;
  return (
    <div className={`file-slot${error ? ' has-error' : ''}${file ? ' has-file' : ''}`} data-slot={id}>
      <label className="file-slot-label" htmlFor={id}>
        {label}
      </label>
      <div className="file-slot-control">
        <input
          id={id}
          type="file"
          className="file-input"
          accept={accept}
          aria-describedby={error ? `${statusId} ${errorId}` : statusId}
          aria-invalid={error ? true : undefined}
          onChange={(event) => {
            onPick(event.target.files?.[0]);
            event.target.value = ''; // picking the same file again still fires change
          }}
        />
        <div className="file-face" aria-hidden="true">
          <Icon />
          <span className={`file-name${file ? '' : ' muted'}`}>{file ? file.name : t('import.noFile')}</span>
          <span className="file-choose">{t('import.choose')}</span>
        </div>
        <span id={statusId} className="visually-hidden">
          {file ? file.name : t('import.noFile')}
        </span>
        {file ? (
          <button type="button" className="icon-button file-clear" aria-label={t('import.clearFile', { file: file.name })} onClick={() => onPick(undefined)}>
            <CloseIcon width={16} height={16} />
          </button>
        ) : null}
      </div>
      {error ? (
        <p id={errorId} className="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
