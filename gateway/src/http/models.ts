/** `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's shape, from `GetWorkerInfo`. */
import { Router, type Request, type Response } from 'express';

import { NotFoundError } from '../errors.js';
import { OPENAI_MODEL_ALIAS } from '../file_transcription.js';
import type { WorkerPool } from '../grpc/pool.js';
import { requestContext } from './context.js';

/** One entry of the model list. */
export interface OpenAiModel {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
}

const OWNER = 'whisperlive-hybrid';

async function listModels(
  pool: WorkerPool,
  requestId: string,
  createdS: number,
): Promise<OpenAiModel[]> {
  const info = await pool.acquire().getWorkerInfo({ requestId, timeoutMs: 5000 });
  const ids = [info.modelName, OPENAI_MODEL_ALIAS].filter(
    (id, i, all) => id !== '' && all.indexOf(id) === i,
  );
  return ids.map((id) => ({ id, object: 'model', created: createdS, owned_by: OWNER }));
}

/** Creates the models router; `startedAtS` is reported as each model's `created`. */
export function createModelsRouter(pool: WorkerPool, startedAtS: number): Router {
  const router = Router();
  router.get('/v1/models', async (_req: Request, res: Response) => {
    const data = await listModels(pool, requestContext(res).requestId, startedAtS);
    res.json({ object: 'list', data });
  });
  router.get('/v1/models/:model', async (req: Request, res: Response) => {
    const wanted = typeof req.params.model === 'string' ? req.params.model : '';
    const data = await listModels(pool, requestContext(res).requestId, startedAtS);
    const model = data.find((m) => m.id === wanted);
    if (model === undefined) {
      throw new NotFoundError(`The model '${wanted}' does not exist.`, 'model_not_found', 'model');
    }
    res.json(model);
  });
  return router;
}
