/** The core's one error: a code from shared/scheduler.ts, which maps to the HTTP status the boundary answers with. */
import { SCHEDULER_ERROR_STATUS, type SchedulerErrorCode } from '../../shared/scheduler.ts';
import { ArbiterError } from '../errors.ts';

export class SchedulerError extends ArbiterError {
  declare readonly code: SchedulerErrorCode;
  constructor(code: SchedulerErrorCode, message: string, details?: unknown) {
    super(SCHEDULER_ERROR_STATUS[code], code, message, details);
  }
}
