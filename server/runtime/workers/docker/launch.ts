/**
 * Making a worker's container run: create it — pulling the image when the engine does not have it, replacing an
 * ended container of the same worker that holds its name — and start it, publishing `launch.port/tcp` on the same
 * host port, or, when that one is taken, on a port the engine chooses. A container that cannot be started is
 * removed: a failed launch leaves nothing behind.
 */
import type { Launch } from '../backend.ts';
import { createOptions, isAlive, LABELS, type CreateSettings } from './create.ts';
import { engineMessage, isNoSuchImage, isPortTaken, statusOf, type WorkerEngine, type WorkerInspect } from './engine.ts';

/** Create and start the container of `launch`; its inspect body once it started. */
export async function launchContainer(engine: WorkerEngine, launch: Launch, image: string, s: CreateSettings): Promise<WorkerInspect> {
  let id = await create(engine, launch, image, String(launch.port), s);
  try {
    await engine.start(id);
  } catch (err) {
    await engine.remove(id).catch(() => {});
    if (!isPortTaken(err)) throw new Error(`worker ${launch.id}: its container did not start: ${engineMessage(err)}`);
    id = await create(engine, launch, image, '', s);
    await startOrRemove(engine, launch, id);
  }
  try {
    return await engine.inspect(id);
  } catch (err) {
    await engine.remove(id).catch(() => {});
    throw new Error(`worker ${launch.id}: its container started but could not be inspected: ${engineMessage(err)}`);
  }
}

async function startOrRemove(engine: WorkerEngine, launch: Launch, id: string): Promise<void> {
  try {
    await engine.start(id);
  } catch (err) {
    await engine.remove(id).catch(() => {});
    throw new Error(`worker ${launch.id}: its container did not start: ${engineMessage(err)}`);
  }
}

async function create(engine: WorkerEngine, launch: Launch, image: string, hostPort: string, s: CreateSettings): Promise<string> {
  const opts = createOptions(launch, image, hostPort, s);
  try {
    return await engine.create(opts);
  } catch (err) {
    if (isNoSuchImage(err)) {
      await engine.pull(image).catch((pullErr: unknown) => {
        throw new Error(`worker ${launch.id}: image "${image}" is not on the engine and could not be pulled: ${engineMessage(pullErr)}`);
      });
      return engine.create(opts);
    }
    // Docker: 409 Conflict; Podman: 500 "…the container name "x" is already in use…"
    if (statusOf(err) === 409 || /name .*already in use/i.test(engineMessage(err))) {
      const old = await engine.inspect(opts.name!).catch(() => null);
      if (old && old.Config?.Labels?.[LABELS.worker] === launch.id && !isAlive(old)) {
        await engine.remove(old.Id); // an ended container of this same worker, left behind by an earlier run
        return engine.create(opts);
      }
      throw new Error(`worker ${launch.id}: a container named ${opts.name} exists already${old ? ` (${old.State?.Status ?? 'unknown state'})` : ''}`);
    }
    throw new Error(`worker ${launch.id}: the engine did not create its container: ${engineMessage(err)}`);
  }
}
