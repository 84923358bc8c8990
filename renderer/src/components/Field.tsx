/** A labelled form field; the control gets its id, and its hint and error through aria-describedby. */
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

export interface FieldAria {
  id: string;
  'aria-describedby'?: string;
  'aria-invalid'?: true;
  required?: boolean;
}

export function Field(props: { id: string; label: string; hint?: string | undefined; error?: string | undefined; required?: boolean; className?: string; children: (aria: FieldAria) => ReactNode }) {
  const { t } = useTranslation();
  const describedBy = [props.hint ? `${props.id}-hint` : '', props.error ? `${props.id}-error` : ''].filter(Boolean).join(' ');
  const aria: FieldAria = {
    id: props.id,
    ...(describedBy ? { 'aria-describedby': describedBy } : {}),
    ...(props.error ? { 'aria-invalid': true as const } : {}),
    ...(props.required ? { required: true } : {}),
  };
  return (
    <div className={`field${props.error ? ' has-error' : ''}${props.className ? ` ${props.className}` : ''}`}>
      <label htmlFor={props.id}>
        {props.label}
        {props.required ? (
          <span className="required" title={t('import.required')}>
            {' *'}
          </span>
        ) : null}
      </label>
      {props.children(aria)}
      {props.hint ? (
        <p id={`${props.id}-hint`} className="field-hint">
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p id={`${props.id}-error`} className="field-error" role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}
