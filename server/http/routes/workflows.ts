/**
 * Users and workflows over HTTP, at the reference's paths (`POST /users/`, `GET /users/{id}`, `POST /workflows/`…,
 * FastAPI-style: a trailing slash or none) and under `/api` (`/api/users`, `/api/workflows`). Their errors carry
 * FastAPI's `detail` (the message), which the reference's clients read, beside Arbiter's `error` object.
 */
import { Router, type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { JobCompleteBodySchema, UserCreateBodySchema, WorkflowCreateBodySchema, WorkflowsQuerySchema, type User, type Workflow, type WorkflowCreated, type WorkflowsResponse } from '../../../shared/workflows.ts';
import type { Logger } from '../../log.ts';
import type { WorkflowService } from '../../runtime/workflows/service.ts';
import { mapError, parseInput } from '../errors.ts';

/** The reference's own paths (besides `/api/users`, `/api/workflows`). */
export const WORKFLOW_PATHS = ['/users', '/workflows'] as const;

export const IdParamsSchema = z.object({ id: z.string().min(1).max(128) });
export const JobParamsSchema = IdParamsSchema.extend({ index: z.string().regex(/^\d{1,6}$/, 'a job index').transform(Number) });

export function workflowRoutes(flows: WorkflowService): Router {
  const r = Router();
  for (const base of ['', '/api']) {
    r.post(`${base}/users`, (req, res) => {
      const body = parseInput(UserCreateBodySchema, req.body ?? {}, 'body');
      const answer: User = flows.createUser(body.username);
      res.status(201).json(answer);
    });
    r.get(`${base}/users/:id`, (req, res) => {
      const { id } = parseInput(IdParamsSchema, req.params, 'params');
      const answer: User = flows.user(id);
      res.json(answer);
    });
    r.post(`${base}/workflows`, async (req, res) => {
      const body = parseInput(WorkflowCreateBodySchema, req.body ?? {}, 'body');
      const answer: WorkflowCreated = await flows.submit(body);
      res.status(201).json(answer);
    });
    r.get(`${base}/workflows`, (req, res) => {
      const q = parseInput(WorkflowsQuerySchema, req.query, 'query');
      const answer: WorkflowsResponse = flows.list(q);
      res.json(answer);
    });
    r.get(`${base}/workflows/:id`, (req, res) => {
      const { id } = parseInput(IdParamsSchema, req.params, 'params');
      const answer: Workflow = flows.get(id);
      res.json(answer);
    });
    r.delete(`${base}/workflows/:id`, async (req, res) => {
      const { id } = parseInput(IdParamsSchema, req.params, 'params');
      const answer: Workflow = await flows.cancel(id);
      res.json(answer);
    });
    r.post(`${base}/workflows/:id/retry`, async (req, res) => {
      const { id } = parseInput(IdParamsSchema, req.params, 'params');
      const answer: Workflow = await flows.retry(id);
      res.json(answer);
    });
    r.post(`${base}/workflows/:id/jobs/:index/complete`, async (req, res) => {
      const { id, index } = parseInput(JobParamsSchema, req.params, 'params');
      const body = parseInput(JobCompleteBodySchema, req.body ?? {}, 'body');
      const answer: Workflow = await flows.complete(id, index, body);
      res.json(answer);
    });
  }
  return r;
}

/** Errors of these routes: FastAPI's `detail` for its clients, and Arbiter's `error` object. */
export function workflowErrors(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const { status, code, message, details } = mapError(err, req, log);
    res.status(status).json({ detail: message, error: { code, message, ...(details !== undefined ? { details } : {}) } });
  };
}
