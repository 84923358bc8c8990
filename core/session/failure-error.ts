/**
 * A failure carried by an exception, for the parts that fail by throwing (launchers,
 * ferry-helper's client, finding openvpn): the session takes `failure` as it is; anyone
 * else who catches it reads `message`, the English wording, as a FerryError's.
 */
import { FerryError } from '../util/errors.js';
import { failureText, terminalLanguage } from './failure-text.js';
import type { Failure } from './failures.js';

export class FailureError extends FerryError {
  constructor(readonly failure: Failure) {
    super(failureText(failure, 'en'));
    this.name = 'FailureError';
  }

  override localized(): string {
    return failureText(this.failure, terminalLanguage());
  }
}
