export const articleOpenApi = {};
