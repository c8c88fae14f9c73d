import { createGpuContext } from '../gpu/device.js';

// Placeholder until the playground lands: reports which WebGPU adapter this browser offers.
const status = document.getElementById('status') as HTMLElement;
createGpuContext()
  .then(({ adapter, features }) => {
    status.textContent = `WebGPU adapter: ${adapter.description || adapter.vendor || 'unknown'}${
      adapter.isFallback ? ' (software)' : ''
    }; shader-f16: ${features.shaderF16 ? 'yes' : 'no'}`;
  })
  .catch((err: Error) => {
    status.textContent = `No WebGPU here (${err.message}); m3web would use its CPU forward.`;
  });
