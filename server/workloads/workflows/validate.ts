/**
 * What a submitted workflow must be before anything is stored, as errors naming the job index and the field:
 * 400 for what is wrong with it (an unknown user, bad parent indices, a job its own parent, duplicate names, a
 * cycle, a docker job without an image), 422 for what is well-formed but can never be honoured here (a backend
 * this server does not have, resources no node can ever hold). Pure: the lookups are passed in.
 */
import { ArbiterError } from '../../../shared/error.ts';
import type { WorkerBackend } from '../../../shared/workers.ts';
import type { WorkflowCreateBody } from '../../../shared/workflows.ts';
import { problemsText, type FieldProblem } from '../../errors.ts';
import { dagProblems } from './dag.ts';
import { jobBackend, jobResources, type JobAsk } from './jobs.ts';

export interface WorkflowChecks {
  userExists(id: string): boolean;
  backendAvailable(b: WorkerBackend): boolean;
  defaultBackend: WorkerBackend;
  /** why these resources can never fit, or null */
  neverFits(ask: JobAsk): string | null;
}

export function checkWorkflow(body: WorkflowCreateBody, c: WorkflowChecks): void {
  const problems: FieldProblem[] = [];
  if (!c.userExists(body.user_id)) problems.push({ field: 'user_id', message: `no user with id ${JSON.stringify(body.user_id)} (POST /users/ makes one)` });
  problems.push(...dagProblems(body.jobs));
  body.jobs.forEach((j, i) => {
    if (jobBackend(j, c.defaultBackend) === 'docker' && j.run && !j.run.container_image) {
      problems.push({ field: `jobs.${i}.run.container_image`, message: 'required by the docker backend' });
    }
  });
  if (problems.length) throw new ArbiterError(400, 'invalid_request', `invalid workflow: ${problemsText(problems)}`, problems);

  const unfit: FieldProblem[] = [];
  body.jobs.forEach((j, i) => {
    const ask = jobResources(j);
    if (!ask) return;
    const backend = jobBackend(j, c.defaultBackend);
    if (!c.backendAvailable(backend)) unfit.push({ field: `jobs.${i}.run.backend`, message: `the ${backend} backend is not available on this server` });
    const reason = c.neverFits(ask);
    if (reason) unfit.push({ field: `jobs.${i}.resources`, message: reason });
  });
  if (unfit.length) throw new ArbiterError(422, 'never_fits', `the workflow cannot run here: ${problemsText(unfit)}`, unfit);
}
