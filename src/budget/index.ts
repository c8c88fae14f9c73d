export { type CostModel, fitCostModel, type LatencyTerms, matrixBytes, memoryMB, type WeightQuant } from './cost.js';
export { type Budget, type Plan, type PlanModel, planBudget } from './plan.js';
export { type DeviceProbe, type ProbeOptions, type ProbePoint, type ProbeTarget, probeCacheKey, probeDevice } from './probe.js';
export { getOrProbe, modelFingerprint, probeStoreKey } from './probe-cache.js';
export { compareQuality, type QualityEstimate, type QualitySource, qualityEstimator } from './quality.js';
