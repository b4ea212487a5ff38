import { hvsimProject } from '../../vitest.shared.ts';

export default hvsimProject('test-utils');
