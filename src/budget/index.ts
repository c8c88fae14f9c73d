export {
  type ActivationsProbe,
  activationsOf,
  activationsReason,
  F16_MARGIN,
  probeActivations,
} from './activations.js';
export {
  type BackendChoices,
  type BackendProbes,
  type ClassChoice,
  chooseBackends,
  classShapes,
  costModels,
  SIZE_CLASSES,
  type SizeClass,
  sizeClassOf,
} from './backend-choice.js';
export { BackendSwitch, SWITCH_MARGIN, SWITCH_WINDOW } from './backend-switch.js';
export { type CostModel, fitCostModel, type LatencyTerms, matrixBytes, memoryMB, type WeightQuant } from './cost.js';
export { type Budget, type Plan, type PlanModel, planBudget, planWorkload } from './plan.js';
export {
  type BoundedProbe,
  type DeviceProbe,
  type ProbeOptions,
  type ProbePoint,
  type ProbeTarget,
  probeAgainst,
  probeBoth,
  probeCacheKey,
  probeDevice,
} from './probe.js';
export {
  getOrProbe,
  getOrProbeActivations,
  getOrProbeBoth,
  modelFingerprint,
  probeStoreKey,
  storedActivations,
  storedProbes,
} from './probe-cache.js';
export { compareQuality, type QualityEstimate, type QualitySource, qualityEstimator } from './quality.js';
