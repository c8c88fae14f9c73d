import { createStore, get, set } from 'idb-keyval';
import { InputError, type ModelFolder } from '../index.js';
import { $ } from './dom.js';
import { loadPanel } from './load-panel.js';
import { droppedDir, droppedGguf, pickedFolder, walkFolder } from './model-drop.js';

// A folder or a .gguf file dropped on the model box (or a folder picked with its button) opens as `?model=folder`:
// every panel is set up once, for one model, so the page loads again on it. The folder's files
// wait in IndexedDB meanwhile (only the last one dropped is kept); they are converted in the
// engine's worker on each visit, since a local folder is not cached as a converted pack.

/** The `?model=` value that opens the kept folder. */
export const FOLDER_MODEL = 'folder';
const KEY = 'dropped';
const store = () => createStore('m3web-playground', 'folders');

/** The folder dropped last, or null when none is kept (storage cleared, another browser profile). */
export async function keptFolder(): Promise<ModelFolder | null> {
  return (await get<ModelFolder>(KEY, store())) ?? null;
}

async function openFolder(folder: ModelFolder | null): Promise<void> {
  try {
    if (!folder)
      throw new InputError(
        'drop a folder (a Hugging Face model folder or an m3web pack) or a .gguf file, not other single files',
      );
    if (Object.keys(folder.files).length === 0)
      throw new InputError(`${folder.name} has no model files (JSON, safetensors, pytorch_model.bin, GGUF, pack shards)`);
    $('load-status').textContent = `Keeping ${folder.name} on this device for the page to open it…`;
    await set(KEY, folder, store());
    const params = new URLSearchParams(location.search);
    params.set('model', FOLDER_MODEL);
    location.search = params.toString();
  } catch (err) {
    loadPanel.failed(err);
  }
}

/** Drag-and-drop on the model panel and its folder picker. */
export function setupFolderBox(): void {
  const box = $('load');
  box.addEventListener('dragover', (e) => {
    e.preventDefault();
    box.classList.add('dropping');
  });
  box.addEventListener('dragleave', () => box.classList.remove('dropping'));
  box.addEventListener('drop', (e) => {
    e.preventDefault();
    box.classList.remove('dropping');
    const item = [...(e.dataTransfer?.items ?? [])].find((i) => i.kind === 'file');
    // Read inside the handler: the drop's items are gone once it returns.
    const gguf = item ? droppedGguf(item) : Promise.resolve(null);
    const dir = item ? droppedDir(item) : Promise.resolve(null);
    Promise.all([gguf, dir])
      .then(([file, d]) => file ?? (d && walkFolder(d)))
      .then(openFolder, (err: unknown) => loadPanel.failed(err));
  });
  const picker = $('model-folder') as HTMLInputElement;
  picker.addEventListener('change', () => void openFolder(pickedFolder(picker.files ?? [])));
}
