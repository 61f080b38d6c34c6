import type { AnyQueueDefinition, QueueName } from './context';
import { discoverQueue } from './stages/discover';
import { projectQueue } from './stages/project';
import { sdistQueue } from './stages/sdist-extract';
import { wheelQueue } from './stages/wheel-metadata';

/** Every queue the runners know: one per stage, each defined in its own file under stages/. */
export const QUEUES: Partial<Record<QueueName, AnyQueueDefinition>> = {
  discover: discoverQueue as AnyQueueDefinition,
  project: projectQueue as AnyQueueDefinition,
  'wheel-metadata': wheelQueue as AnyQueueDefinition,
  'sdist-extract': sdistQueue as AnyQueueDefinition,
};
