/** m3web's benchmark page: ?model=<pack URL>&device=webgpu|cpu[&shared=1]&text=<probe text>. */
import { openM3web } from '../runtimes/m3web.js';
import { publishBench } from './page.js';

publishBench(async (query) => {
  const device = query.get('device') === 'cpu' ? 'cpu' : 'webgpu';
  const shared = query.get('shared') === '1' ? true : undefined;
  const m = await openM3web(new URL(query.get('model') ?? '', location.href).href, device, shared);
  const info = await m.encoder.info();
  return { embed: m.at(), at: (point) => m.at(point), fromCache: info.fromCache };
});
