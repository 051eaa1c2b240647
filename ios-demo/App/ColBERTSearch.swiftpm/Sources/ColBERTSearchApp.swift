import SwiftUI

@main
struct ColBERTSearchApp: App {
    @State private var model = SearchModel(corpus: SampleCorpus.load())

    var body: some Scene {
        WindowGroup {
            ContentView(model: model)
                .task { await model.start() }
        }
    }
}
