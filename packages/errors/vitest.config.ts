import { hvsimProject } from '../../vitest.shared.ts';

export default hvsimProject('errors');
