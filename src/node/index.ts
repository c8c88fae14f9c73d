export { fileSource } from './files.js';
export { openHfCheckpoint } from './hf-checkpoint.js';
export { readHfFolder } from './hf-folder.js';
export { isPackFolder, type OpenedModel, openModelFolder, readModelConfig } from './model-folder.js';
export { readPackFolder } from './pack-folder.js';
